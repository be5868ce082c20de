#!/usr/bin/env bash
# The AWS CDK CLI from the npm package aws-cdk, pinned, installed under .cache/cdk-cli/ (never globally):
# `make diff` and `make deploy` run .cache/cdk-cli/node_modules/.bin/cdk. The package has no dependencies.
set -euo pipefail
VERSION="${1:?usage: install-cdk-cli.sh VERSION [DEST]}"
DEST="${2:-.cache/cdk-cli}"
CDK="$DEST/node_modules/.bin/cdk"
STAMP="$DEST/.version"

if [ -x "$CDK" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSION" ]; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "error: npm is needed to install the CDK CLI (aws-cdk@$VERSION)" >&2; exit 1; }
mkdir -p "$DEST"
[ -f "$DEST/package.json" ] || echo '{"name": "cdk-cli", "private": true}' > "$DEST/package.json"
npm install --prefix "$DEST" --save-exact --no-audit --no-fund --silent "aws-cdk@$VERSION"
[ -x "$CDK" ] || { echo "error: aws-cdk@$VERSION did not install $CDK" >&2; exit 1; }
echo "$VERSION" > "$STAMP"
echo "CDK CLI $("$CDK" --version) in $DEST"
