"""The one-line error contract of the command line, shared by the tests that check it."""
from gankit.cli import main


def one_line_error(capsys, argv, *fragments) -> str:
    """Run ``gankit argv``: exit 2, exactly one stderr line starting ``gankit: error:`` that holds every
    fragment, no traceback anywhere. Returns the line."""
    assert main([str(a) for a in argv]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gankit: error:"), err
    assert "Traceback" not in out + err
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]
