#!/usr/bin/env bash
# Requests Tether links from any service catalog, portal or pipeline: one HTTP call, signed
# with AWS SigV4 for execute-api (curl's own --aws-sigv4, curl 7.75 or later), the body of
# POST /links (api/openapi.yaml). See catalog/README.md.
#
#   TETHER_ENDPOINT=https://{api}.execute-api.{region}.amazonaws.com AWS_REGION={region} \
#     catalog/generic/create-link.sh request.json
#
# Credentials come from the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for
# temporary credentials, AWS_SESSION_TOKEN (for a profile or SSO session:
# eval "$(aws configure export-credentials --format env)"). The caller needs
# execute-api:Invoke on the route. IDEMPOTENCY_KEY, when set, makes a retry safe.
#
# Prints the API's answer (the request id and one link per target) and exits non-zero when
# the API refuses the request (its application/problem+json body is printed, with its code).
set -euo pipefail

endpoint="${TETHER_ENDPOINT:?set TETHER_ENDPOINT to the Tether API URL}"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
: "${region:?set AWS_REGION to the region of the Tether API}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID (and AWS_SECRET_ACCESS_KEY)}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"
request="${1:-$(dirname "$0")/request.json}"

headers=(-H 'content-type: application/json')
if [[ -n "${AWS_SESSION_TOKEN:-}" ]]; then headers+=(-H "x-amz-security-token: ${AWS_SESSION_TOKEN}"); fi
if [[ -n "${IDEMPOTENCY_KEY:-}" ]]; then headers+=(-H "idempotency-key: ${IDEMPOTENCY_KEY}"); fi

exec curl --silent --show-error --fail-with-body \
  --aws-sigv4 "aws:amz:${region}:execute-api" \
  --user "${AWS_ACCESS_KEY_ID}:${AWS_SECRET_ACCESS_KEY}" \
  "${headers[@]}" \
  --data-binary "@${request}" \
  "${endpoint%/}/links"
