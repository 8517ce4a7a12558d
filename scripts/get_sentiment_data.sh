#!/usr/bin/env bash
# Fetches the UCI "Sentiment Labelled Sentences" data set (3 x 1000 sentences from Amazon,
# IMDb and Yelp reviews, labelled 0/1; Kotzias et al., KDD 2015) once, checks its checksum,
# and converts it to datasets/sentiment/sentences.tsv (columns text, label, source).
#
#   bash scripts/get_sentiment_data.sh [BUILD_DIR]   (default build/; needs bin/sentiment_import)
#
# The sentences ship inside the npm package `sentiment` 5.0.2 (MIT licence) as
# test/fixtures/{amazon,imdb,yelp}.json; `npm pack` fetches its tarball. Without npm, download
#   https://registry.npmjs.org/sentiment/-/sentiment-5.0.2.tgz
# by any means and put it at datasets/sentiment/sentiment-5.0.2.tgz, then run this again.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${1:-build}"

dir="datasets/sentiment"
tarball="$dir/sentiment-5.0.2.tgz"
expected_sha256="89302eb03d2005d03b214fe65814bb48adb7d3c42c8ca80bdee6a3ecb7e4480f"
out="$dir/sentences.tsv"

if [[ -s "$out" ]]; then
  echo "data: $out is there ($(($(wc -l <"$out") - 1)) sentences)"
  exit 0
fi
mkdir -p "$dir"

if [[ ! -f "$tarball" ]]; then
  if ! command -v npm >/dev/null; then
    cat >&2 <<MSG
data: npm is not installed, so the data set cannot be fetched automatically.
  Either install npm (bash scripts/setup.sh --extras), or download
    https://registry.npmjs.org/sentiment/-/sentiment-5.0.2.tgz
  and save it as $tarball, then run this script again.
MSG
    exit 1
  fi
  echo "data: fetching the npm package sentiment@5.0.2 (the UCI labelled sentences)"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent sentiment@5.0.2 >/dev/null)
  mv "$tmp/sentiment-5.0.2.tgz" "$tarball"
fi

actual_sha256="$(sha256sum "$tarball" | cut -d' ' -f1)"
if [[ "$actual_sha256" != "$expected_sha256" ]]; then
  echo "data: $tarball has sha256 $actual_sha256, expected $expected_sha256." >&2
  echo "  The file is not the package this example was made for; delete it and run again." >&2
  exit 1
fi
echo "data: $tarball: sha256 ok"

raw="$dir/raw"
mkdir -p "$raw"
tar -xzf "$tarball" -C "$raw" --strip-components=3 \
  package/test/fixtures/amazon.json package/test/fixtures/imdb.json package/test/fixtures/yelp.json

importer="$build/bin/sentiment_import"
[[ -x "$importer" ]] || { echo "data: $importer not found (build the target sentiment_import)" >&2; exit 1; }
"$importer" -o "$out" "$raw/amazon.json" "$raw/imdb.json" "$raw/yelp.json"
