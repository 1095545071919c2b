/** A certificate parameter that cannot be used: a distinguished name, extension, validity, date or signature algorithm. */
import { BobcatError } from "../../util/errors.ts";

export class CertParameterError extends BobcatError {
  constructor(message: string, fix?: string) {
    super("tls.certParameter", message, { fix });
    this.name = "CertParameterError";
  }
}
