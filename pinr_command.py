"""The ``pinr`` console command's launcher: it imports nothing of pinr before it can answer a
Ctrl-C, so an interrupt while torch and pinr load (a few seconds) is one line and exit 130 rather
than a traceback through torch's import machinery (``pinr --debug``: the traceback)."""

import sys


def main():
    try:
        from pinr.cli import main as command
    except KeyboardInterrupt:
        if "--debug" in sys.argv[1:]:
            raise
        sys.stderr.write("interrupted while pinr was starting; nothing was written\n")
        return 130
    return command()


if __name__ == "__main__":
    sys.exit(main())
