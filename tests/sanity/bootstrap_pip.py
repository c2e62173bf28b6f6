"""Stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test sanity creates one venv per test and bootstraps pip in it with get-pip.py from
ci-files.testing.ansible.com, which CI and lab machines cannot reach (only the Debian and
PyPI registries). `make sanity` copies this file to ansible-test's cache path: it bootstraps
pip with the standard library's ensurepip, then installs what was asked from PyPI.
"""

import subprocess
import sys


def main():
    """Install pip with ensurepip, then `pip install` the requested packages."""
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
    args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--upgrade", *args]))


if __name__ == "__main__":
    main()
