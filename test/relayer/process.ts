/**
 * The relayer's process supervisor (relayer/src/process.ts; branch spec: process.tree) over a real logger with the
 * relayer's redacting destination and real shutdown hooks. The process's events are an EventEmitter here, so a test
 * can send a signal or an unhandled rejection without ending the test runner.
 */
import { EventEmitter } from "node:events";
import { expect } from "chai";
import { createCommon, type Common } from "../../relayer/src/common";
import { parseOptions } from "../../relayer/src/options";
import { superviseProcess, type ProcessEvents } from "../../relayer/src/process";

const PASSWORD = "pr0cess-s3cret";
const PATH_KEY = "f00dfeedc0ffee1234567890abcdef12";
const RPC_URL = `https://ops:${PASSWORD}@rpc.example.net/v3/${PATH_KEY}`;

type Line = { level: number; msg: string; module?: string; signal?: string; why?: string; err?: { message?: string } };

describe("relayer process supervisor", function () {
  let common: Common;
  let raw: string[];
  let events: EventEmitter;
  let exits: number[];
  let hooksRun: string[];

  const lines = (): Line[] =>
    raw
      .join("")
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line);
  const until = async (what: () => boolean) => {
    for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(what(), "waited 2 s").to.equal(true);
  };

  beforeEach(function () {
    raw = [];
    exits = [];
    hooksRun = [];
    common = createCommon(
      parseOptions({ RPC_URL, DEPLOYMENT: "x", LOG_LEVEL: "info", LOG_FORMAT: "json" }),
      undefined,
      { write: (chunk: string) => raw.push(chunk), isTTY: false } as unknown as NodeJS.WritableStream,
    );
    common.onShutdown("first", () => void hooksRun.push("first"));
    common.onShutdown("second", async () => {
      await new Promise((r) => setTimeout(r, 20));
      hooksRun.push("second");
    });
    events = new EventEmitter();
  });

  const supervise = (shutdownMs?: number) =>
    superviseProcess(common, {
      events: events as unknown as ProcessEvents,
      exit: (code) => exits.push(code),
      shutdownMs,
    });

  for (const signal of ["SIGTERM", "SIGINT"]) {
    it(`when ${signal} arrives → "shutting down" at info with the signal, every shutdown hook runs, exit 0`, async function () {
      supervise();
      events.emit(signal);
      await until(() => exits.length > 0);
      expect(exits).to.deep.equal([0]);
      expect(hooksRun).to.deep.equal(["second", "first"]);
      const said = lines().filter((l) => l.msg === "shutting down");
      expect(said).to.have.length(1);
      expect(said[0]).to.deep.include({ level: 30, signal, module: "process" });
    });
  }

  it("when a second signal arrives during the shutdown → nothing more: one shutdown, one exit", async function () {
    supervise();
    events.emit("SIGTERM");
    events.emit("SIGINT");
    events.emit("SIGTERM");
    await until(() => exits.length > 0);
    await new Promise((r) => setTimeout(r, 50));
    expect(exits).to.deep.equal([0]);
    expect(hooksRun).to.deep.equal(["second", "first"]);
    expect(lines().filter((l) => l.msg === "shutting down")).to.have.length(1);
  });

  it("when a rejection nobody handles arrives → one fatal line without the URL's credentials or key, shutdown, exit 1", async function () {
    supervise();
    events.emit("unhandledRejection", new Error(`request to ${RPC_URL} failed: socket hang up`));
    await until(() => exits.length > 0);
    expect(exits).to.deep.equal([1]);
    expect(hooksRun).to.deep.equal(["second", "first"]);
    const fatal = lines().filter((l) => l.level === 60);
    expect(fatal).to.have.length(1);
    expect(fatal[0].msg).to.equal("unhandled rejection; shutting down");
    expect(fatal[0].err?.message).to.contain("https://***@rpc.example.net/v3/***").and.contain("socket hang up");
    const written = raw.join("");
    expect(written).not.to.contain(PASSWORD);
    expect(written).not.to.contain(PATH_KEY);
  });

  it("when an exception nobody catches arrives → fatal, shutdown, exit 1", async function () {
    supervise();
    events.emit("uncaughtException", new TypeError("cannot read properties of undefined"));
    await until(() => exits.length > 0);
    expect(exits).to.deep.equal([1]);
    expect(hooksRun).to.deep.equal(["second", "first"]);
    expect(
      lines()
        .filter((l) => l.level === 60)
        .map((l) => [l.msg, l.err?.message]),
    ).to.deep.equal([["uncaught exception; shutting down", "cannot read properties of undefined"]]);
  });

  it("when a rejection arrives after the shutdown began → warn, the shutdown goes on, one exit with the first code", async function () {
    supervise();
    events.emit("SIGTERM");
    events.emit("unhandledRejection", new Error("Connection is closed."));
    events.emit("uncaughtException", new Error("write after end"));
    await until(() => exits.length > 0);
    await new Promise((r) => setTimeout(r, 50));
    expect(exits).to.deep.equal([0]);
    expect(hooksRun).to.deep.equal(["second", "first"]);
    expect(lines().filter((l) => l.level === 60)).to.deep.equal([]);
    expect(
      lines()
        .filter((l) => l.level === 40)
        .map((l) => [l.msg, l.err?.message]),
    ).to.deep.equal([
      ["unhandled rejection while shutting down; the shutdown goes on", "Connection is closed."],
      ["uncaught exception while shutting down; the shutdown goes on", "write after end"],
    ]);
  });

  it("when a shutdown hook never ends → after shutdownMs an error line, and exit anyway with the code asked for", async function () {
    common.onShutdown("stuck", () => new Promise<void>(() => undefined));
    supervise(100);
    events.emit("unhandledRejection", "a plain string reason");
    await until(() => exits.length > 0);
    expect(exits).to.deep.equal([1]);
    expect(hooksRun, "the hooks after the stuck one never ran").to.deep.equal([]);
    expect(
      lines()
        .filter((l) => l.level === 50)
        .map((l) => [l.msg, l.why]),
    ).to.deep.equal([["shutdown did not end in time; exiting without it", "unhandled rejection"]]);
  });

  it("when stop is called (the start failed) → the same shutdown; the code given is the exit code", async function () {
    const supervisor = supervise();
    const first = supervisor.stop(2, "start failed");
    const again = supervisor.stop(1, "start failed");
    await Promise.all([first, again]);
    expect(exits).to.deep.equal([2]);
    expect(hooksRun).to.deep.equal(["second", "first"]);
  });
});
