"""Render one host's keepalived.conf from the plan with Jinja2 (no Ansible imports)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import jinja2

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import (
    Plan,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.splitbrain import (
    host_block,
)

_BARE = re.compile(r"^[A-Za-z0-9_./:@+=,%-]+$")

DEFAULT_TEMPLATE = """\
# Managed by Ansible (vipkeeper.vrrp.render) for {{ host }}: local edits are overwritten.
# Clusters: {{ clusters | map(attribute='name') | join(', ') if clusters else 'none' }}

global_defs {
{{ global_defs | kblock(1) }}
}
{% if vipkeeper %}

# vipkeeper daemon only (docs/split-brain.md): keepalived -t rejects this block
vipkeeper {
{{ vipkeeper | kblock(1) }}
}
{% endif %}
{% for cluster in clusters %}
{%   for script in cluster.scripts %}

vrrp_script {{ script.name }} {
  script {{ script.script | kvalue }}
{%     for key in ['interval', 'timeout', 'fall', 'rise', 'weight', 'user'] %}
{%       if script[key] is not none %}
  {{ key }} {{ script[key] | kvalue }}
{%       endif %}
{%     endfor %}
{%     if script.options %}
{{ script.options | kblock(1) }}
{%     endif %}
}
{%   endfor %}
{%   if cluster.sync_group %}

vrrp_sync_group {{ cluster.sync_group }} {
  group {
{%     for inst in cluster.instances %}
    {{ inst.name }}
{%     endfor %}
  }
{%     if cluster.weighted_tracking %}
  sync_group_tracking_weight
{%     endif %}
}
{%   endif %}
{%   for inst in cluster.instances %}
{%     set me = inst.member(host) %}

# cluster {{ cluster.name }} ({{ inst.family }}): {{ inst.members|map(attribute='host')|join(' ') }}
vrrp_instance {{ inst.name }} {
  state {{ me.state }}
  interface {{ me.interface }}
  virtual_router_id {{ inst.vrid }}
  priority {{ me.priority }}
  advert_int {{ inst.advert_int | kvalue }}
  version {{ inst.version }}
{%     if not inst.preempt %}
  nopreempt
{%     elif inst.preempt_delay is not none %}
  preempt_delay {{ inst.preempt_delay }}
{%     endif %}
{%     if inst.unicast %}
{%       if me.address %}
  unicast_src_ip {{ me.address }}
{%       endif %}
  unicast_peer {
{%       for peer in me.peers %}
    {{ peer }}
{%       endfor %}
  }
{%     elif inst.mcast_group %}
  mcast_dst_ip {{ inst.mcast_group }}
{%     endif %}
{%     if inst.auth_pass %}
  authentication {
    auth_type PASS
    auth_pass {{ inst.auth_pass }}
  }
{%     endif %}
  virtual_ipaddress {
{%     for line in inst.vip_lines(me.interface) %}
    {{ line }}
{%     endfor %}
  }
{%     if inst.track_scripts %}
  track_script {
{%       for name in inst.track_scripts %}
    {{ name }}
{%       endfor %}
  }
{%     endif %}
{%     if inst.track_interfaces %}
  track_interface {
{%       for name, weight in inst.track_interfaces %}
    {{ name }}{% if weight is not none %} weight {{ weight }}{% endif %}

{%       endfor %}
  }
{%     endif %}
{%     for event, command in inst.notify %}
  {{ 'notify' if event == 'notify' else 'notify_' ~ event }} {{ command | kvalue }}
{%     endfor %}
{%     if inst.options %}
{{ inst.options | kblock(1) }}
{%     endif %}
}
{%   endfor %}
{%   for vs in cluster.virtual_servers %}

virtual_server {{ vs.address }} {{ vs.port }} {
{{ vs | kblock(1, skip=['address', 'port', 'real_servers']) }}
{%     for rs in vs.real_servers | default([]) %}
  real_server {{ rs.address }} {{ rs.port }} {
{{ rs | kblock(2, skip=['address', 'port']) }}
  }
{%     endfor %}
}
{%   endfor %}
{% endfor %}
"""


def kvalue(value: Any) -> str:
    """One keepalived token: bare when safe, else double (or single) quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    if _BARE.match(text):
        return text
    if '"' in text:
        return "'" + text + "'"
    return '"' + text + '"'


def _lines(data: Any, depth: int, skip: frozenset[str]) -> list[str]:
    pad = "  " * depth
    out: list[str] = []
    items = data.items() if isinstance(data, Mapping) else data
    for key, value in items:
        if key in skip or value is None or value is False:
            continue
        if value is True:
            out.append(f"{pad}{key}")
        elif isinstance(value, Mapping):
            out.extend([f"{pad}{key} {{", *_lines(value, depth + 1, frozenset()), f"{pad}}}"])
        elif isinstance(value, list | tuple):
            if value and all(isinstance(v, Mapping) for v in value):
                for sub in value:
                    out.extend([f"{pad}{key} {{", *_lines(sub, depth + 1, frozenset()), f"{pad}}}"])
            else:
                out.append(f"{pad}{key} {{")
                out.extend(f"{pad}  {kvalue(v)}" for v in value)
                out.append(f"{pad}}}")
        else:
            out.append(f"{pad}{key} {kvalue(value)}")
    return out


def kblock(data: Any, depth: int = 1, skip: Any = ()) -> str:
    """Mapping (or key/value pairs) as keepalived keywords and nested blocks."""
    return "\n".join(_lines(data, depth, frozenset(skip)))


def environment() -> jinja2.Environment:
    """The Jinja2 environment every render uses."""
    env = jinja2.Environment(
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["kvalue"] = kvalue
    env.filters["kblock"] = kblock
    return env


@functools.lru_cache(maxsize=8)
def _template(text: str) -> jinja2.Template:
    return environment().from_string(text)


def render_host(
    plan: Plan,
    host: str,
    template_text: str | None = None,
    global_defs: Mapping[str, Any] | None = None,
    *,
    daemon: str = "vipkeeper",
    split_brain: Mapping[str, Any] | None = None,
) -> str:
    """This host's config: every instance it is a member of, with its scripts and servers.

    `split_brain` is the site-wide setting (vipkeeper_split_brain); merged with the clusters'
    into the `vipkeeper { }` block for the vipkeeper daemon (PlanError: bad or conflicting
    settings, or any setting for a keepalived host)."""
    clusters = plan.for_host(host)
    block = host_block(clusters, host, daemon, split_brain)
    defs: dict[str, Any] = {"router_id": host.split(".", maxsplit=1)[0]}
    hooks = "conflict_notify" in block
    if hooks or any(c.scripts or any(i.notify for i in c.instances) for c in clusters):
        defs.update({"enable_script_security": True, "script_user": "root"})
    defs.update(global_defs or {})
    template = _template(template_text or DEFAULT_TEMPLATE)
    text = template.render(host=host, clusters=clusters, global_defs=defs, vipkeeper=block)
    return re.sub(r"\n{3,}", "\n\n", text)
