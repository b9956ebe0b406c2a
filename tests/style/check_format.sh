#!/usr/bin/env bash
# Every C++ file of the project is formatted as .clang-format says (include order included): the check CI
# runs through CTest. To fix: clang-format -i $(git ls-files '*.cpp' '*.hpp')
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
clang_format=${CLANG_FORMAT:-clang-format}
mapfile -t files < <(find core collector analyzer exporters pipeline app bench fuzz tests \
                       \( -name '*.cpp' -o -name '*.hpp' \) -not -path 'tests/fixtures/*' 2>/dev/null | sort)
bad=0
for f in "${files[@]}"; do
  if ! "$clang_format" --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f"
    bad=$((bad + 1))
  fi
done
echo "${#files[@]} files checked, $bad not formatted ($("$clang_format" --version))"
[ "$bad" -eq 0 ]
