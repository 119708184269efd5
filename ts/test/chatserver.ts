// startChatServer builds the chat example's Go server and runs it on a
// loopback port, for the tests that drive the runtime against it.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(__dirname, "../..");

/** ChatServer is a running chat server: base is its http:// address. */
export interface ChatServer {
  readonly base: string;
  stop(): void;
}

export async function startChatServer(): Promise<ChatServer> {
  const bin = join(mkdtempSync(join(tmpdir(), "ssotws-")), "chat-server");
  execFileSync("go", ["build", "-o", bin, "./examples/chat/server"], { cwd: root, stdio: "inherit" });
  const proc = spawn(bin, ["-addr", "127.0.0.1:0"], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  const base = await new Promise<string>((ok, fail) => {
    let log = "";
    proc.stderr!.on("data", (b: Buffer) => {
      log += b.toString();
      const m = /http=(http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) ok(m[1]!);
    });
    proc.on("exit", (code) => fail(new Error(`chat server exited with ${code}: ${log}`)));
  });
  return { base, stop: () => proc.kill() };
}
