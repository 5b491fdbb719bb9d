#!/usr/bin/env bash
# Paired A/B of the library: BASELINE_COMMIT (default HEAD~1) against the work tree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
base="${1:-HEAD~1}"
dir=target/ab-baseline
rm -rf "$dir" && mkdir -p "$dir"
# `-m`: the files get the time of extraction, not of the commit; with a
# commit's time, a baseline older than the last one built looks unchanged
# to Cargo and the old build is measured.
git archive "$base" Cargo.toml src README.md SPEC.md | tar -x -m -C "$dir"
# Cargo holds two packages of one name and version only under different
# names; the baseline is a package of its own (no workspace, benches or
# dev-dependencies).
python3 - "$dir/Cargo.toml" <<'PY'
import re, sys
path = sys.argv[1]
out, skip = [], False
for line in open(path).read().splitlines():
    header = re.match(r"^\[\[?([^\]]+)\]\]?\s*$", line)
    if header:
        skip = header.group(1) in ("workspace", "bench", "dev-dependencies")
    if not skip:
        out.append(line)
text = "\n".join(out) + "\n"
text = text.replace('name = "channel-connect"', 'name = "channel-connect-baseline"', 1)
open(path, "w").write(text)
PY
cargo run --release --manifest-path benches/ab/Cargo.toml
