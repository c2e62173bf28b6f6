"""Preprocessor: includes, @id lines, variables, loops."""

from __future__ import annotations

from pathlib import Path

from vipkeeper.config.diagnostics import Code, Diagnostic
from vipkeeper.config.preprocess import Preprocessor, SourceLine


def run(path: Path, config_id: str = "node1") -> tuple[list[SourceLine], list[Diagnostic]]:
    diags: list[Diagnostic] = []
    lines = list(Preprocessor(config_id, diags).run(path))
    return lines, diags


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def texts(lines: list[SourceLine]) -> list[str]:
    return [line.text.strip() for line in lines]


def test_comments_and_blank_lines_dropped(tmp_path: Path) -> None:
    main = write(tmp_path / "k.conf", "# c\n\n  ! c\nrouter_id x # c\n")
    lines, diags = run(main)
    assert texts(lines) == ["router_id x"]
    assert (lines[0].file, lines[0].line) == (str(main), 4)
    assert diags == []


def test_include_glob_relative_to_including_file(tmp_path: Path) -> None:
    main = write(tmp_path / "etc" / "k.conf", "a 1\ninclude conf.d/*.conf\nb 2\n")
    write(tmp_path / "etc" / "conf.d" / "20-y.conf", "y 1\n")
    write(tmp_path / "etc" / "conf.d" / "10-x.conf", "x 1\ninclude ../more/z.inc\n")
    write(tmp_path / "etc" / "more" / "z.inc", "z 1\n")
    lines, diags = run(main)
    assert texts(lines) == ["a 1", "x 1", "z 1", "y 1", "b 2"]
    assert lines[2].file.endswith("more/z.inc")
    assert diags == []


def test_missing_include_is_an_error_with_place(tmp_path: Path) -> None:
    main = write(tmp_path / "k.conf", "a 1\ninclude nope.conf\nb 2\n")
    lines, diags = run(main)
    assert texts(lines) == ["a 1", "b 2"]
    assert [(d.code, d.line, d.severity) for d in diags] == [(Code.INCLUDE_MISSING, 2, "error")]
    assert "nope.conf" in diags[0].message


def test_glob_matching_nothing_is_a_warning(tmp_path: Path) -> None:
    main = write(tmp_path / "k.conf", "include none/*.conf\n")
    _, diags = run(main)
    assert [(d.code, d.severity) for d in diags] == [(Code.INCLUDE_MISSING, "warning")]


def test_include_cycle_detected(tmp_path: Path) -> None:
    write(tmp_path / "a.conf", "a 1\ninclude b.conf\n")
    write(tmp_path / "b.conf", "b 1\ninclude a.conf\n")
    lines, diags = run(tmp_path / "a.conf")
    assert texts(lines) == ["a 1", "b 1"]
    assert [d.code for d in diags] == [Code.INCLUDE_CYCLE]
    assert diags[0].file.endswith("b.conf") and diags[0].line == 2


def test_self_include_detected(tmp_path: Path) -> None:
    main = write(tmp_path / "k.conf", "include k.conf\n")
    _, diags = run(main)
    assert [d.code for d in diags] == [Code.INCLUDE_CYCLE]


def test_conditional_lines(tmp_path: Path) -> None:
    main = write(tmp_path / "k.conf", "@node1 a 1\n@node2 b 2\n@^node1 c 3\n@^node2 d 4\n")
    assert texts(run(main, "node1")[0]) == ["a 1", "d 4"]
    assert texts(run(main, "node2")[0]) == ["b 2", "c 3"]


def test_variables_plain_braced_and_lazy(tmp_path: Path) -> None:
    text = "$B=${A}0\n$A=5\nvalue $B ${A}x $UNDEFINED\n"
    lines, diags = run(write(tmp_path / "k.conf", text))
    assert texts(lines) == ["value 50 5x $UNDEFINED"]
    assert diags == []


def test_bare_variable_must_end_the_word(tmp_path: Path) -> None:
    text = "$n=7\na $n/24 ${n}/24 x$n $n{ $nn\n"
    lines, _ = run(write(tmp_path / "k.conf", text))
    assert texts(lines) == ["a $n/24 7/24 x7 7{ $nn"]


def test_multiline_variable_expands_to_several_lines(tmp_path: Path) -> None:
    text = "$V=advert_int 1 \\\n  priority 100 \\\n  state BACKUP\nx {\n$V\n}\n"
    lines, _ = run(write(tmp_path / "k.conf", text))
    assert texts(lines) == ["x {", "advert_int 1", "priority 100", "state BACKUP", "}"]
    assert {line.line for line in lines[1:4]} == {5}


def test_self_referential_variable_is_an_error(tmp_path: Path) -> None:
    text = "$A=x $A\nuse $A\nok 1\n"
    lines, diags = run(write(tmp_path / "k.conf", text))
    assert texts(lines) == ["ok 1"]
    assert [(d.code, d.line) for d in diags] == [(Code.VARIABLE_RECURSION, 2)]
    assert "$A" in diags[0].message


def test_mutually_recursive_variables_are_an_error(tmp_path: Path) -> None:
    text = "$A=$B\n$B=${A}\nuse $A\n"
    _, diags = run(write(tmp_path / "k.conf", text))
    assert [d.code for d in diags] == [Code.VARIABLE_RECURSION]
    assert "A -> B -> A" in diags[0].message


def test_exponential_expansion_is_bounded(tmp_path: Path) -> None:
    defs = "$V0=xxxxxxxxxxxxxxxx\n" + "".join(
        f"$V{i}=${{V{i - 1}}}${{V{i - 1}}}\n" for i in range(1, 30)
    )
    _, diags = run(write(tmp_path / "k.conf", defs + "use $V29\n"))
    assert [d.code for d in diags] == [Code.EXPANSION_TOO_LARGE]


def test_seq_forms(tmp_path: Path) -> None:
    text = "~SEQ(i,1,2,7) a $i\n~SEQ(j,3) b $j\n~SEQ(k,5,6) c ${k}\n~SEQ(m,3,-1,1) d $m\n"
    lines, diags = run(write(tmp_path / "k.conf", text))
    assert texts(lines) == [
        "a 1", "a 3", "a 5", "a 7", "b 1", "b 2", "b 3", "c 5", "c 6", "d 3", "d 2", "d 1",
    ]  # fmt: skip
    assert diags == []


def test_lst_and_nested_loops(tmp_path: Path) -> None:
    text = "~LST(x,a,b) ~SEQ(n,1,2) ${x}$n\n"
    lines, _ = run(write(tmp_path / "k.conf", text))
    assert texts(lines) == ["a1", "a2", "b1", "b2"]


def test_bad_loops_reported(tmp_path: Path) -> None:
    text = "~SEQ(i,1,0,5) a\n~SEQ(i,x) b\n~SEQ(i,1,1,10000000) c\n~LST(1x,a) d\n"
    lines, diags = run(write(tmp_path / "k.conf", text))
    assert lines == []
    assert [(d.code, d.line) for d in diags] == [
        (Code.BAD_LOOP, 1),
        (Code.BAD_LOOP, 2),
        (Code.EXPANSION_TOO_LARGE, 3),
        (Code.BAD_LOOP, 4),
    ]


def test_include_from_a_loop(tmp_path: Path) -> None:
    write(tmp_path / "p1.conf", "one\n")
    write(tmp_path / "p2.conf", "two\n")
    main = write(tmp_path / "k.conf", "~SEQ(i,2) include p${i}.conf\nend\n")
    lines, diags = run(main)
    assert texts(lines) == ["one", "two", "end"]
    assert diags == []


def test_missing_main_file(tmp_path: Path) -> None:
    lines, diags = run(tmp_path / "absent.conf")
    assert lines == []
    assert [d.code for d in diags] == [Code.FILE_NOT_FOUND]


def test_a_cycle_reached_by_several_paths_is_reported_once(tmp_path: Path) -> None:
    for name in "abc":
        write(tmp_path / f"{name}.conf", "include *.conf\n")
    lines, diags = run(tmp_path / "a.conf")
    assert lines == []
    found = [(Path(d.file).stem, Path(d.message.split("'")[1]).stem) for d in diags]
    assert {d.code for d in diags} == {Code.INCLUDE_CYCLE}
    # (includer, included): every pair where the included file can be an ancestor, once each.
    assert sorted(found) == [("a", "a"), ("b", "a"), ("b", "b"), ("b", "c"),
                             ("c", "a"), ("c", "b"), ("c", "c")]  # fmt: skip


def test_a_device_a_directory_and_an_executable_are_not_read(tmp_path: Path) -> None:
    exe = write(tmp_path / "x.conf", "global_defs {\n}\n")
    exe.chmod(0o700)
    (tmp_path / "d.conf").mkdir()
    main = write(tmp_path / "k.conf", "include /dev/zero\ninclude d.conf\ninclude x.conf\nend\n")
    lines, diags = run(main)
    assert texts(lines) == ["end"]
    not_regular = "not a regular file; not read"
    assert [(d.code, d.line, d.message) for d in diags] == [
        (
            Code.FILE_UNREADABLE,
            1,
            f"included file '/dev/zero' is a character device, {not_regular}",
        ),
        (
            Code.FILE_UNREADABLE,
            2,
            f"included file '{tmp_path}/d.conf' is a directory, {not_regular}",
        ),
        (
            Code.FILE_UNREADABLE,
            3,
            f"included file '{exe}' is executable (keepalived reads only non-executable files);"
            " not read",
        ),
    ]


def test_a_file_waiting_its_turn_in_a_glob_is_not_a_cycle(tmp_path: Path) -> None:
    # x.conf includes y.conf, which the same glob reads next: no cycle, y.conf read twice.
    main = write(tmp_path / "k.conf", "include conf.d/*.conf\nend\n")
    write(tmp_path / "conf.d" / "x.conf", "x 1\ninclude y.conf\n")
    write(tmp_path / "conf.d" / "y.conf", "y 1\n")
    lines, diags = run(main)
    assert texts(lines) == ["x 1", "y 1", "y 1", "end"]
    assert diags == []
