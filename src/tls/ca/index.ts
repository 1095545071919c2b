/** The test/dev CA: library functions and the `bobcat ca` command. */
export { CRL_REASONS, type CaKeyType, type CaMaterial, createCa, type CreateCaOptions, type IssuedCertificate, issueCertificate, type IssueOptions, issueOcspSigner, makeCrl, type RevokedEntry } from "./issue.ts";
export { entryFor, formatIndex, type IndexEntry, parseIndex, revokedOf, revokeEntry } from "./index-txt.ts";
export { CA_HELP, type CaIO, caMain } from "./main.ts";
