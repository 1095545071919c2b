/** The test/dev CA: library functions (the `bobcat ca` command is src/cli/ca.ts). */
export {
  type CaKeyType,
  type CaMaterial,
  createCa,
  type CreateCaOptions,
  CRL_REASONS,
  issueCertificate,
  type IssuedCertificate,
  issueOcspSigner,
  type IssueOptions,
  makeCrl,
  type RevokedEntry,
} from "./issue.ts";
export { entryFor, formatIndex, type IndexEntry, parseIndex, revokedOf, revokeEntry } from "./index-txt.ts";
