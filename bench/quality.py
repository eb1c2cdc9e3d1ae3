"""Quality runs: train a preset on its shared corpus and record the figures it reaches.

    python bench/quality.py shakespeare-char-cpu [--device cpu] [--tag NAME] [-- extra lstmtext train flags]
    python bench/quality.py ptb-word-awd --device cuda --tag 9min --resume -- --time-limit 1080

Writes bench/results/quality-<preset>[-<tag>]-<device>-<date>.json with the run's figures, settings and
time (a recipe file of one's own, FILE.json, is named by its stem); give a --tag with extra flags, so a
variant does not overwrite the preset's own figures.
``--resume`` continues that run (checkpoints/quality-<preset>[-<tag>]) from its last saved state,
for as long as the flags after ``--`` allow (--time-limit is the run's whole training time: 1080 is
540 more after a first 540), and writes ...-resumed-<device>-<date>.json: a run longer than one
10-minute device call, made of two calls while the machine stays warm.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


RESERVED = {"--out": "the run goes to checkpoints/quality-PRESET[-TAG]", "--preset": "name it before --",
            "--device": "give it before --", "--resume": "give it before --",
            "--overwrite": "a new run replaces its own folder; --resume continues it"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The preset, --device and --tag; everything after ``--`` goes to lstmtext train as ``extra``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Flags after -- go to lstmtext train; give --tag with them.")
    parser.add_argument("preset", help="a preset of lstmtext/presets, e.g. shakespeare-char-cpu, or a recipe file "
                                       "(.json) of your own")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (as lstmtext train --device)")
    parser.add_argument("--tag", default="", help="name for a variant run (with extra flags)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run of this preset and tag (checkpoints/quality-PRESET[-TAG])")
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    args.extra = argv[cut + 1:]
    for flag in args.extra:  # what this script sets itself: given again, it would train or record another run
        name = flag.split("=")[0]
        if name in RESERVED:
            parser.error(f"{name} after -- is this script's to set ({RESERVED[name]})")
    if args.extra and not args.tag and not args.resume:
        parser.error("give --tag NAME with extra flags, so the variant does not overwrite the preset's figures")
    if not re.fullmatch(r"[\w.-]*", args.tag):
        parser.error(f"--tag {args.tag!r}: use letters, digits, '.', '-' and '_' (it names files)")
    # a recipe file (lstmtext train --preset FILE.json) names files by its stem, and reaches lstmtext train, which
    # runs from the checkout, whole
    own = args.preset.lower().endswith(".json")
    stem = Path(args.preset).stem if own else args.preset
    args.recipe = str(Path(args.preset).expanduser().resolve()) if own else args.preset
    args.name = f"{stem}-{args.tag}" if args.tag else stem
    return args


def main() -> None:
    from bench.harness import SHARED, device_name, new_path
    from lstmtext.cli.train_presets import load_preset
    from lstmtext.errors import UserError

    args = parse_args(sys.argv[1:])
    try:
        preset = load_preset(args.recipe)
    except UserError as err:
        sys.exit(f"error: {err}")
    corpus = SHARED / preset["corpus"]
    if not corpus.exists():
        sys.exit(f"error: {corpus} is not here; the quality runs need ../shared/corpora (or LSTMTEXT_CORPORA)")
    run = ROOT / "checkpoints" / f"quality-{args.name}"
    if args.resume:
        command = [sys.executable, "-m", "lstmtext", "train", "--resume", str(run), "--device", args.device,
                   "--quiet", *args.extra]
    else:
        command = [sys.executable, "-m", "lstmtext", "train", str(corpus), "--preset", args.recipe, "--device",
                   args.device, "--out", str(run), "--overwrite", "--quiet", *args.extra]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT)
    if done.returncode:  # lstmtext train has said why, in one line
        if done.returncode in (130, 143) and (run / "state.json").exists():  # stopped: this script resumes it too
            again = ["python", "bench/quality.py", args.preset, "--device", args.device,
                     *(["--tag", args.tag] if args.tag else []), "--resume"]
            print(f"to go on and record its figures: {' '.join(again)}", file=sys.stderr)
        sys.exit(done.returncode)
    wall = time.perf_counter() - started
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    result = config["result"]
    import torch

    device = "cuda" if "cuda" in result["device"] else "cpu"
    doc = {"preset": args.preset, "tag": args.tag or None, "description": preset["description"],
           "device": device_name(device),
           "date": time.strftime("%Y-%m-%d"), "command": " ".join(["lstmtext", *command[3:]]),
           "wall_seconds": round(wall, 1), "train_seconds": round(result["seconds"], 1), "steps": result["steps"],
           "stopped_by": result["stopped_by"], "figures": result["figures"],
           # what the run trained with (the preset and the flags after --), and the preset as it is
           "settings": {"model": config["model"], "train": config["train"], "tokenizer": config["tokenizer"]},
           "preset_settings": preset["settings"],
           "versions": {"torch": torch.__version__, "cuda": torch.version.cuda}}
    if args.resume:
        doc["resumed"] = True
    suffix = "-resumed" if args.resume else ""
    out = new_path(ROOT / "bench" / "results" / f"quality-{args.name}{suffix}-{doc['device']}-{doc['date']}.json")
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(doc["figures"], indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
