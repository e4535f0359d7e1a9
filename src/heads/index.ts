// Signed heads of the directory log (DESIGN.md "Signed heads and consistency",
// docs/protocol.md §13): the gateway's Ed25519 key, the signer the sealer's
// ledger signs each head with, and witnesses' co-signatures. The log's tree,
// its proofs and the stored heads are the ledger's (src/ledger/directory-log.ts).
export { keyFingerprint, openSigningKey, publicKeyObject, rawPublicKey, readSigningKeyFile, storedPublicKey, type SigningKey } from './signing-key.js';
export { headSigner } from './signer.js';
export { CosignatureBook, type Refused } from './cosignatures.js';
export { HeadSignatureCheck } from './check.js';
