#!/bin/bash
# Billing by hand against a running server and the fake Stripe (see the README, Billing): signs in
# as the demo owner, starts Checkout, pays on the fake hosted page, and delivers a signed
# checkout.session.completed with curl (then a forged one, then the same one again).
set -e
S=http://127.0.0.1:18080
J=/tmp/billing-demo.cookies
gql() { curl -s -b $J -c $J -H 'Content-Type: application/json' "$S/graphql" -d "$1"; echo; }
echo '$ signIn as the demo owner'
gql '{"query":"mutation { signIn(email: \"owner@demo.ringback.test\", password: \"ringback-demo-owner\") { user { email } } }"}'
echo '$ billing before'
gql '{"query":"{ billing { status plan { key } allowance mayText stoppedReason periodEnd } }"}'
echo '$ startCheckout(plan: "growth")'
gql '{"query":"mutation { startCheckout(plan: \"growth\") }"}' | tee /tmp/billing-demo.checkout
URL=$(sed -E 's/.*"startCheckout":"([^"]+)".*/\1/' /tmp/billing-demo.checkout)
echo "$ paying on the (fake) hosted page: POST $URL"
curl -s -o /dev/null -w '%{http_code} -> %{redirect_url}\n' -X POST "$URL"
SESSION=${URL##*/}
CUSTOMER=$(curl -s -u sk_test_demo0123456789: http://127.0.0.1:12111/v1/subscriptions | sed -E 's/.*"customer":"(cus_[a-z0-9]+)".*/\1/')
SUB=$(curl -s -u sk_test_demo0123456789: "http://127.0.0.1:12111/v1/subscriptions?customer=$CUSTOMER" | grep -o '"id":"sub_[a-z0-9]*"' | head -1 | cut -d'"' -f4)
BODY="{\"id\":\"evt_demo_1\",\"object\":\"event\",\"type\":\"checkout.session.completed\",\"data\":{\"object\":{\"id\":\"$SESSION\",\"object\":\"checkout.session\",\"mode\":\"subscription\",\"customer\":\"$CUSTOMER\",\"subscription\":\"$SUB\",\"payment_status\":\"paid\"}}}"
T=$(date +%s)
SIG=$(printf '%s.%s' "$T" "$BODY" | openssl dgst -sha256 -hmac whsec_demo0123456789 | sed 's/^.*= //')
echo "$ curl -X POST $S/webhooks/stripe -H 'Stripe-Signature: t=$T,v1=$SIG' -d '$BODY'"
curl -s -w ' (HTTP %{http_code})\n' -X POST "$S/webhooks/stripe" -H "Stripe-Signature: t=$T,v1=$SIG" -H 'Content-Type: application/json' --data-binary "$BODY"
echo '$ the same body with a forged signature'
curl -s -w ' (HTTP %{http_code})\n' -X POST "$S/webhooks/stripe" -H "Stripe-Signature: t=$T,v1=$(printf '0%.0s' {1..64})" --data-binary "$BODY"
echo '$ the same event again'
curl -s -w ' (HTTP %{http_code})\n' -X POST "$S/webhooks/stripe" -H "Stripe-Signature: t=$T,v1=$SIG" --data-binary "$BODY"
echo '$ billing after'
gql '{"query":"{ billing { status plan { key } allowance mayText stoppedReason periodEnd } }"}'
