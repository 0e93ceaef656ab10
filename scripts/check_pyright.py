"""Fail when pyright reported errors or analysed no files (a misconfigured include is silent)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    report = json.loads(Path(sys.argv[1]).read_text())
    summary = report["summary"]
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    for d in errors:
        start = d["range"]["start"]
        print(f"{d['file']}:{start['line'] + 1}:{start['character'] + 1}: {d['message']}")
    print(f"pyright: {summary['filesAnalyzed']} files, {summary['errorCount']} errors")
    if summary["filesAnalyzed"] == 0:
        print("pyright analysed 0 files: check [tool.pyright] include")
        return 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
