// Before `npm test`: the tests need real redis-server (and redis-sentinel),
// Debian's Chromium, python3, and openssl and curl (the TLS tests make their
// own certificates and call over --http1.1 and --http2); `npm run bench` also needs etcd
// (etcd-server, its anchor for durable writes). Whatever is missing is installed with
// apt-get (through sudo when not root), saying so; when that is impossible
// the run stops with one line naming the command to run. Tests never skip
// for a missing tool.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const NEEDED = [
  { what: "redis-server", present: () => onPath("redis-server"), pkg: "redis-server" },
  { what: "redis-sentinel", present: () => onPath("redis-sentinel"), pkg: "redis-sentinel" },
  { what: "/usr/bin/chromium", present: () => existsSync("/usr/bin/chromium"), pkg: "chromium" },
  { what: "python3", present: () => onPath("python3"), pkg: "python3" },
  { what: "openssl", present: () => onPath("openssl"), pkg: "openssl" },
  { what: "curl", present: () => onPath("curl"), pkg: "curl" },
  { what: "etcd", present: () => onPath("etcd"), pkg: "etcd-server" },
];

function onPath(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

const missing = NEEDED.filter((n) => !n.present());
if (missing.length > 0) {
  const packages = [...new Set(missing.map((n) => n.pkg))];
  const root = process.getuid?.() === 0;
  const apt = root ? ["apt-get"] : ["sudo", "-n", "apt-get"];
  const command = `${root ? "" : "sudo "}apt-get update && ${root ? "" : "sudo "}apt-get install -y ${packages.join(" ")}`;
  if (!onPath("apt-get") || (!root && !onPath("sudo"))) {
    console.error(`npm test needs ${missing.map((n) => n.what).join(", ")}: install them with \`${command}\``);
    process.exit(1);
  }
  console.error(`npm test needs ${missing.map((n) => n.what).join(", ")}: installing ${packages.join(" ")} with apt-get`);
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync(apt[0], [...apt.slice(1), "update", "-qq"], { stdio: "inherit", env });
    execFileSync(apt[0], [...apt.slice(1), "install", "-y", "-qq", ...packages], { stdio: "inherit", env });
  } catch {
    console.error(`could not install ${packages.join(" ")}: run \`${command}\`, then npm test again`);
    process.exit(1);
  }
  const still = missing.filter((n) => !n.present());
  if (still.length > 0) {
    console.error(`${still.map((n) => n.what).join(", ")} still missing after apt-get: run \`${command}\``);
    process.exit(1);
  }
}
