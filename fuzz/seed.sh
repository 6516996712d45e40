#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the repository's fixtures/ (and fuzz/seeds/, fuzz/regressions/).
# The corpora are not committed (fuzz/.gitignore): run this once before a campaign.
#
#   bash fuzz/seed.sh            # from the repository root or from fuzz/
#
# Files are copied under a name made of their path, so a re-run overwrites instead of
# duplicating. Inputs larger than -max_len are truncated by libFuzzer when it loads them,
# which is fine for seeds (the first objects of a big export are still valid).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
corpus="$here/corpus"

copy() { # copy TARGET FILE...
    local target="$1"; shift
    mkdir -p "$corpus/$target"
    local f
    for f in "$@"; do
        [ -f "$f" ] || continue
        local rel="${f#"$root"/}"
        cp "$f" "$corpus/$target/$(printf '%s' "$rel" | tr '/ ' '__')"
    done
}

fixtures="$root/fixtures"
# CliXML exports are UTF-8 or UTF-16LE: pick them by name (every .xml but MetaBase.xml).
mapfile -d '' clixml < <(find "$fixtures" -type f -name '*.xml' ! -iname '*metabase*' -print0)
mapfile -d '' text < <(find "$fixtures" -type f -name '*.txt' -print0)
mapfile -d '' legacy < <(find "$fixtures" -type f \( -name '*.ldf' -o -name '*.reg' -o -name 'MetaBase.xml' -o -name '*MetaBase*.xml' -o -name '*.toml' ! -name expect.toml \) -print0)
mapfile -d '' rules < <(find "$root/rules" -type f -name '*.toml' -print0)

copy clixml "${clixml[@]}" "$here"/seeds/clixml/*
copy format_list "${text[@]}" "$here"/seeds/format_list/*
copy legacy "${legacy[@]}"
copy rules "${rules[@]}"
# The structured target reads its bytes through `arbitrary`: fixture bytes are not documents
# for it but still good raw material (their text ends up in names, values and type names).
copy clixml_structured "${clixml[@]}"

for t in clixml format_list legacy rules clixml_structured; do
    if [ -d "$here/regressions/$t" ]; then
        copy "$t" "$here/regressions/$t"/*
    fi
    printf '%-18s %5d files\n' "$t" "$(find "$corpus/$t" -type f | wc -l)"
done
