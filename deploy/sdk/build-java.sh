#!/usr/bin/env bash
# Build zcloud's Java SDK from its OpenAPI document, offline.
#
#   deploy/sdk/build-java.sh              spec dumped from the code (deploy/sdk/dump_openapi.py)
#   deploy/sdk/build-java.sh FILE.json    spec from a file
#   deploy/sdk/build-java.sh http://HOST:PORT[/openapi.json]   spec from a running server
#
# Generates the client with openapi-generator (Java, `native` library: java.net.http + Jackson)
# into build/sdk-java/, puts its dependencies in build/sdk-java/lib/ (Jackson core, databind,
# annotations, datatype-jsr310 and JSR-305 taken from the generator's own bundled jar; Debian's
# geronimo-annotation-1.3-spec for javax.annotation.Generated), compiles it with javac into
# build/sdk-java/classes and packs build/zcloud-sdk.jar. Nothing is downloaded. Running it
# again with the same inputs does nothing; `make sdk-java` runs it.
#
# Environment: PYTHON (default .venv/bin/python), OPENAPI_GENERATOR (default
# .venv/bin/openapi-generator-cli), GERONIMO_JAR (default Debian's path).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
GENERATOR=${OPENAPI_GENERATOR:-$ROOT/.venv/bin/openapi-generator-cli}
GERONIMO_JAR=${GERONIMO_JAR:-/usr/share/java/geronimo-annotation-1.3-spec.jar}
BUILD=$ROOT/build
OUT=$BUILD/sdk-java
JAR=$BUILD/zcloud-sdk.jar
PACKAGE=io.zcloud.sdk

log() { printf 'build-java: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for tool in java javac jar unzip sha256sum flock; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (needs a JDK 11+ and unzip)"
done
[ -x "$PYTHON" ] || die "no Python at $PYTHON: run 'make venv' first"
[ -x "$GENERATOR" ] || die "no openapi-generator-cli at $GENERATOR: run 'make venv' (dev extra)"
[ -f "$GERONIMO_JAR" ] || die "no $GERONIMO_JAR: apt-get install libgeronimo-annotation-1.3-spec-java (deploy/dev/ensure-services.sh installs it)"
GENERATOR_JAR=$("$PYTHON" -c \
  'import pathlib, openapi_generator_cli as g; print(pathlib.Path(g.__file__).parent / "openapi-generator.jar")')
[ -f "$GENERATOR_JAR" ] || die "the openapi-generator-cli package has no bundled jar at $GENERATOR_JAR"

mkdir -p "$BUILD"
exec 9>"$BUILD/.sdk-java.lock"   # one build at a time (parallel test runs share build/)
flock 9

rm -rf "$BUILD"/.sdk-java.*/   # scratch left by a build that was killed (we hold the lock)
WORK=$(mktemp -d "$BUILD/.sdk-java.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# 1. the OpenAPI document
source_spec=${1:-}
case "$source_spec" in
  "")
    log "dumping the OpenAPI document from the code"
    (cd "$ROOT" && "$PYTHON" deploy/sdk/dump_openapi.py -o "$WORK/openapi.json")
    ;;
  http://* | https://*)
    url=$source_spec
    [[ "$url" == *.json ]] || url="${url%/}/openapi.json"
    log "fetching $url"
    "$PYTHON" - "$url" "$WORK/openapi.json" <<'EOF'
import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=30) as resp:
    data = resp.read()
with open(sys.argv[2], "wb") as f:
    f.write(data)
EOF
    ;;
  *)
    [ -f "$source_spec" ] || die "no such file: $source_spec"
    cp "$source_spec" "$WORK/openapi.json"
    ;;
esac
"$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert "paths" in d, "no paths"' \
  "$WORK/openapi.json" || die "not an OpenAPI document: $source_spec"

# 2. up to date? (same spec, same script, same generator, same annotation jar)
inputs=$(cat "$WORK/openapi.json" "${BASH_SOURCE[0]}" "$GERONIMO_JAR" | sha256sum | cut -d' ' -f1)
inputs="$inputs $(stat -c '%s %Y' "$GENERATOR_JAR")"
if [ -f "$JAR" ] && [ -f "$OUT/.inputs" ] && [ "$(cat "$OUT/.inputs")" = "$inputs" ]; then
  log "up to date"
else
  rm -rf "$OUT" "$JAR"
  mkdir -p "$OUT/lib" "$OUT/classes"
  cp "$WORK/openapi.json" "$OUT/openapi.json"
  version=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["info"]["version"])' \
    "$OUT/openapi.json")

  # 3. generate
  log "generating the Java client (openapi-generator, native library)"
  props=(
    openApiNullable=false
    hideGenerationTimestamp=true
    invokerPackage=$PACKAGE
    apiPackage=$PACKAGE.api
    modelPackage=$PACKAGE.model
    groupId=io.zcloud
    artifactId=zcloud-sdk
    "artifactVersion=$version"
  )
  if ! "$GENERATOR" generate -i "$OUT/openapi.json" -g java --library native -o "$OUT" \
      --additional-properties="$(IFS=,; echo "${props[*]}")" \
      --global-property=apiTests=false,modelTests=false >"$WORK/generate.log" 2>&1; then
    cat "$WORK/generate.log" >&2
    die "openapi-generator failed"
  fi
  cp "$WORK/generate.log" "$OUT/generate.log"

  # 4. dependencies: each library's classes out of the generator's jar, one jar per library
  extract() {  # extract NAME VERSION PATTERN...
    local name=$1 ver=$2 dir="$WORK/lib-$1"
    shift 2
    mkdir -p "$dir"
    unzip -q -o "$GENERATOR_JAR" "$@" -d "$dir"
    jar --create --file "$OUT/lib/$name-$ver.jar" -C "$dir" .
  }
  pom_version() {  # pom_version GROUP ARTIFACT
    unzip -p "$GENERATOR_JAR" "META-INF/maven/$1/$2/pom.properties" | sed -n 's/^version=//p' \
      | tr -d '\r'
  }
  for artifact in core:jackson-core core:jackson-databind core:jackson-annotations \
      datatype:jackson-datatype-jsr310; do
    group=com.fasterxml.jackson.${artifact%%:*}
    name=${artifact#*:}
    ver=$(pom_version "$group" "$name")
    [ -n "$ver" ] || die "the generator's jar has no $group:$name"
    case "$name" in
      jackson-core) pkg=com/fasterxml/jackson/core ;;
      jackson-databind) pkg=com/fasterxml/jackson/databind ;;
      jackson-annotations) pkg=com/fasterxml/jackson/annotation ;;
      jackson-datatype-jsr310) pkg=com/fasterxml/jackson/datatype/jsr310 ;;
    esac
    extract "$name" "$ver" "$pkg/*" "META-INF/maven/$group/$name/*"
  done
  ver=$(pom_version com.google.code.findbugs jsr305)
  [ -n "$ver" ] || die "the generator's jar has no JSR-305 annotations"
  extract jsr305 "$ver" 'javax/annotation/*' 'META-INF/maven/com.google.code.findbugs/jsr305/*'
  cp "$GERONIMO_JAR" "$OUT/lib/geronimo-annotation-1.3-spec.jar"

  # 5. compile (-parameters keeps operation parameter names visible to reflection) and pack
  log "compiling"
  find "$OUT/src/main/java" -name '*.java' | sort >"$WORK/sources"
  if ! javac --release 11 -encoding UTF-8 -parameters -nowarn -Xlint:none \
      -cp "$OUT/lib/*" -d "$OUT/classes" @"$WORK/sources" >"$WORK/javac.log" 2>&1; then
    cat "$WORK/javac.log" >&2
    die "javac failed"
  fi
  # the jar names its dependencies (relative to build/), so `java -cp build/zcloud-sdk.jar` works
  class_path=""
  for lib in "$OUT"/lib/*.jar; do class_path+=" sdk-java/lib/$(basename "$lib")"; done
  printf 'Class-Path:%s\nImplementation-Title: zcloud Java SDK\nImplementation-Version: %s\n' \
    "$class_path" "$version" >"$WORK/manifest"
  jar --create --file "$JAR" --manifest "$WORK/manifest" -C "$OUT/classes" .
  printf '%s' "$inputs" >"$OUT/.inputs"
fi

printf 'zcloud Java SDK: %s\n' "$JAR"
printf '  classpath: %s:%s/lib/*\n' "$JAR" "$OUT"
