import subprocess
import sys
import textwrap


def test_core_never_imports_qt():
    code = textwrap.dedent("""
        import importlib, pkgutil, sys
        import core
        for mod in pkgutil.walk_packages(core.__path__, "core."):
            if mod.name != "core.__main__":
                importlib.import_module(mod.name)
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "PyQt5", "PyQt6"))
        print(len([m for m in sys.modules if m.startswith("core.")]), bad)
        sys.exit(1 if bad else 0)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert int(out.stdout.split()[0]) >= 8  # every core module was really imported
