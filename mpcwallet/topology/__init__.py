"""What the cluster's coordinator (cluster/) and its signer nodes (the daemon's node role in
cosigner/) both need: the cluster configuration and pinning, node static keys, and the signing
permit. Below both of them (DESIGN.md's one-way dependencies)."""
