"""The WaaS service (issue 23): /v1 REST API over wallets on the signer cluster and the
transaction pipeline KYT -> POLICY -> APPROVALS -> SIGN_PENDING (-> the chain layer)."""
