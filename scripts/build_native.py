"""Compile the core's hot modules with mypyc, in place (``make native``; ``make setup`` runs it).

The extension modules land beside their sources in ``engine/domain`` (with one shared library,
``engine/domain/_native__mypyc``), then ``engine/domain/_native.json`` records the digest of
the sources they were built from: ``engine.native`` runs them only while that digest matches,
and the Python sources otherwise. A build that fails leaves no manifest, so the sources run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BUILD = ROOT / "build" / "native"


def main() -> int:
    os.environ["WHISTLE_PURE"] = "1"  # this process reads the sources, whatever is built
    from engine import native

    t0 = time.perf_counter()
    native.MANIFEST.unlink(missing_ok=True)
    for old in native.built():
        old.unlink()
    shutil.rmtree(BUILD, ignore_errors=True)
    recorded = native.manifest_of()

    from mypyc.build import mypycify
    from setuptools import setup

    sources = [str(native.module_file(m).relative_to(ROOT)) for m in native.NATIVE_MODULES]
    os.chdir(ROOT)  # build_ext --inplace puts each module by its dotted name, from here
    warnings.filterwarnings("ignore", message=".*is still \\*beta\\*")
    modules = mypycify(sources, opt_level="3", group_name=f"{native.PACKAGE}._native",
                       target_dir=str(BUILD / "c"))
    setup(name="whistle-native", ext_modules=modules, script_args=[
        "--quiet", "build_ext", "--inplace", "--build-temp", str(BUILD / "temp")])
    if native.manifest_of() != recorded:
        print("build_native: engine/domain changed during the build; not recorded",
              file=sys.stderr)
        return 1
    native.MANIFEST.write_text(json.dumps(recorded, indent=1) + "\n", encoding="utf-8")
    print(f"build_native: {len(sources)} modules of engine.domain compiled with mypyc "
          f"in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
