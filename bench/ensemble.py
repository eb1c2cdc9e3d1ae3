"""Score classifier runs, alone and as ensembles (lstmtext evaluate --ensemble), on SST-2's dev and test files.

    python bench/ensemble.py --device cuda --singles --group "five seeds=checkpoints/a,checkpoints/b" ...

Each --group is NAME=RUN,RUN,...: its label is the argmax of the runs' mean class probabilities. --singles
scores every run named in a group alone as well. Writes bench/results/ensemble-sst2[-TAG]-<device>-<date>.json
with each row's dev and test accuracy and the command that gives it (-2.json, ... beside an earlier one). Where
lstmtext evaluate fails, its reason ends the script, and the rows scored before it are written.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_group(text: str) -> tuple[str, list[str]]:
    """'NAME=RUN,RUN' -> (NAME, [RUN, RUN])."""
    name, sep, runs = text.partition("=")
    if not sep or not name.strip() or not runs.strip():
        raise argparse.ArgumentTypeError(f"--group {text!r}: write it as NAME=RUN,RUN,...")
    return name.strip(), [run.strip() for run in runs.split(",") if run.strip()]


def evaluate_command(runs: list[str], data: Path, device: str) -> list[str]:
    """The lstmtext evaluate call that scores ``runs`` (the first, then each as --ensemble) on ``data``."""
    command = ["lstmtext", "evaluate", runs[0], str(data), "--device", device, "--format", "json"]
    for run in runs[1:]:
        command += ["--ensemble", run]
    return command


def accuracy(runs: list[str], data: Path, device: str) -> float:
    """Accuracy in percent, from lstmtext evaluate's JSON; a RuntimeError with evaluate's own reason where it fails."""
    command = [sys.executable, "-m", "lstmtext", *evaluate_command(runs, data, device)[1:]]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:  # evaluate says why in one line, after any notes
        lines = [line for line in done.stderr.splitlines() if line.strip()] or [f"exit status {done.returncode}"]
        reason = next((line for line in lines if line.startswith("error:")), lines[-1])
        raise RuntimeError(reason.removeprefix("error:").strip())
    result = json.loads(done.stdout)
    if "accuracy" not in result:
        raise RuntimeError(f"{runs[0]} is a language model: it has no accuracy (name classifiers' runs)")
    return round(100 * result["accuracy"], 2)


def main() -> None:
    from bench.harness import SHARED, device_name, new_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", type=parse_group, action="append", required=True, help="NAME=RUN,RUN,...")
    parser.add_argument("--singles", action="store_true", help="score every run alone as well")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tag", default="", help="name for this set of rows in the results file's name")
    args = parser.parse_args()
    corpus = SHARED / "sst2"
    if not corpus.exists():
        sys.exit(f"error: {corpus} is not here; this needs ../shared/corpora (or LSTMTEXT_CORPORA)")
    cases = []
    if args.singles:
        singles = dict.fromkeys(run for _, runs in args.group for run in runs)
        cases += [(Path(run).name, [run]) for run in singles]
    cases += args.group
    rows, failed = [], None
    for name, runs in cases:
        try:
            dev, test = (accuracy(runs, corpus / f"{split}.tsv", args.device) for split in ("dev", "test"))
        except RuntimeError as err:
            failed = f"error: {name}: {err}"
            break
        command = " ".join(evaluate_command(runs, corpus / "{dev,test}.tsv", args.device))
        rows.append({"name": name, "runs": runs, "dev": dev, "test": test,
                     "command": command.replace(str(SHARED), "../shared/corpora")})
        print(f"{name:45s} dev {dev:6.2f}  test {test:6.2f}", flush=True)
    if rows:  # those scored before a failure too
        doc = {"what": "SST-2 classifiers and their ensembles (lstmtext evaluate --ensemble)",
               "device": device_name(args.device), "date": time.strftime("%Y-%m-%d"), "rows": rows,
               **({"incomplete": failed} if failed else {})}
        tag = f"-{args.tag}" if args.tag else ""
        out = new_path(ROOT / "bench" / "results" / f"ensemble-sst2{tag}-{doc['device']}-{doc['date']}.json")
        out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"written to {out}")
    if failed:
        sys.exit(failed)


if __name__ == "__main__":
    main()
