// Certificates made by the tests themselves with `openssl`: a CA, a server
// certificate for 127.0.0.1 and localhost, client certificates, and a second
// CA that the server does not trust. Nothing is downloaded or checked in.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Issued {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** The CA's certificate file. */
  ca: string;
  server: Issued;
  /** Issues a certificate signed by this CA (or by `by`), with a subject and SANs (`extensions` as openssl's subjectAltName). */
  issue(name: string, subject: string, subjectAltName?: string, by?: { cert: string; key: string }): Issued;
  /** Another CA, trusted by nobody here. */
  otherCa(): Issued;
  pem(file: string): string;
}

const INSTALL_HINT = "openssl is required for the TLS tests: install it with `apt-get install -y openssl`";

function openssl(args: string[], cwd: string): void {
  if (spawnSync("sh", ["-c", "command -v openssl"]).status !== 0) throw new Error(INSTALL_HINT);
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function selfSigned(dir: string, name: string, subject: string): Issued {
  const issued = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", subject,
    "-keyout", issued.key, "-out", issued.cert, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
  return issued;
}

/** A fresh PKI in a temporary directory, removed when the test process exits. */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "cm-pki-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const ca = selfSigned(dir, "ca", "/CN=cm test CA");
  const issue = (name: string, subject: string, subjectAltName?: string, by: { cert: string; key: string } = ca): Issued => {
    const issued = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    const csr = join(dir, `${name}.csr`);
    const ext = join(dir, `${name}.ext`);
    openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subject, "-keyout", issued.key, "-out", csr], dir);
    writeFileSync(ext, ["basicConstraints=CA:FALSE", "keyUsage=digitalSignature", "extendedKeyUsage=serverAuth,clientAuth", ...(subjectAltName ? [`subjectAltName=${subjectAltName}`] : [])].join("\n"));
    openssl(["x509", "-req", "-in", csr, "-CA", by.cert, "-CAkey", by.key, "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", issued.cert], dir);
    return issued;
  };
  const server = issue("server", "/CN=localhost", "IP:127.0.0.1,DNS:localhost");
  let other: Issued | undefined;
  return {
    dir,
    ca: ca.cert,
    server,
    issue,
    otherCa: () => (other ??= selfSigned(dir, "other-ca", "/CN=untrusted CA")),
    pem: (file) => readFileSync(file, "utf8"),
  };
}
