import { expect } from "chai";
import { ethers } from "hardhat";

import { Action, approveExactly, DEAL_TYPE, dealIdOf, deployProtocol, escrowDomain, Flags, Kind } from "../fixtures";
import { loadFixture, makeDeal, MAX_DELEGATE_RELEASE_WINDOW, MAX_RESOLUTION_WINDOW } from "../fixtures";
import { MIN_RELEASE_WINDOW, MIN_RESOLUTION_WINDOW, MIN_SLASH_TIME, nextDelegateSalt, openDeal } from "../fixtures";
import { RESOLUTION_WINDOW, signAction, signOpen, Status, USDT, type DealOut } from "../fixtures";
import { ACTION_TYPES, approveFor, deployRegistry, dirtyCalldata, dirtyWords } from "./shared/opening";
import { expectDelegateLockEvents, LOCK_TYPES, makeDelegateLockDeal, makeLockDeal } from "./shared/opening";
import { makeOffRampDeal, OPEN_TYPES, REF, REF2, statusOf, structHash, tuple, withFloat } from "./shared/opening";

describe("Escrow constructor", function () {
  it("when the registry is not a contract → it reverts EscrowInvalidRegistry", async function () {
    const p = await loadFixture(deployProtocol);
    const factory = await ethers.getContractFactory("Escrow");
    await expect(factory.deploy(p.other.address, RESOLUTION_WINDOW))
      .to.be.revertedWithCustomError(factory, "EscrowInvalidRegistry")
      .withArgs(p.other.address);
    await expect(factory.deploy(ethers.ZeroAddress, RESOLUTION_WINDOW))
      .to.be.revertedWithCustomError(factory, "EscrowInvalidRegistry")
      .withArgs(ethers.ZeroAddress);
  });

  it("when the resolution window is outside [MIN_RESOLUTION_WINDOW, MAX_RESOLUTION_WINDOW] → it reverts EscrowInvalidResolutionWindow", async function () {
    const p = await loadFixture(deployProtocol);
    const factory = await ethers.getContractFactory("Escrow");
    // a registry whose floor allows every window up to MAX_RESOLUTION_WINDOW, so only the bounds refuse
    const registry = await (await deployRegistry(p, MAX_RESOLUTION_WINDOW + MIN_SLASH_TIME)).getAddress();
    for (const w of [0, MIN_RESOLUTION_WINDOW - 1, MAX_RESOLUTION_WINDOW + 1, 2 ** 32 - 1]) {
      await expect(factory.deploy(registry, w))
        .to.be.revertedWithCustomError(factory, "EscrowInvalidResolutionWindow")
        .withArgs(w);
    }
  });

  it("when the resolution window plus MIN_SLASH_TIME is above the registry's minUnbondingDelay → it reverts EscrowInvalidResolutionWindow", async function () {
    const p = await loadFixture(deployProtocol);
    const factory = await ethers.getContractFactory("Escrow");
    const floor = Number(await p.registry.minUnbondingDelay());
    expect(floor).to.equal(RESOLUTION_WINDOW + MIN_SLASH_TIME);
    for (const w of [floor - MIN_SLASH_TIME + 1, floor, MAX_RESOLUTION_WINDOW]) {
      await expect(factory.deploy(await p.registry.getAddress(), w))
        .to.be.revertedWithCustomError(factory, "EscrowInvalidResolutionWindow")
        .withArgs(w);
    }
  });

  it("when the resolution window plus MIN_SLASH_TIME equals the registry's minUnbondingDelay → it deploys", async function () {
    const p = await loadFixture(deployProtocol);
    const factory = await ethers.getContractFactory("Escrow");
    const window = (await p.registry.minUnbondingDelay()) - BigInt(MIN_SLASH_TIME);
    const e = await factory.deploy(await p.registry.getAddress(), window);
    expect(await e.resolutionWindow()).to.equal(window);
  });

  it("when the window is at either bound (and within the floor) → it deploys and exposes registry and window", async function () {
    const p = await loadFixture(deployProtocol);
    const factory = await ethers.getContractFactory("Escrow");
    const registry = await (await deployRegistry(p, MAX_RESOLUTION_WINDOW + MIN_SLASH_TIME)).getAddress();
    for (const w of [MIN_RESOLUTION_WINDOW, MAX_RESOLUTION_WINDOW]) {
      const e = await factory.deploy(registry, w);
      expect(await e.resolutionWindow()).to.equal(w);
      expect(await e.registry()).to.equal(registry);
    }
    expect(await p.escrow.registry()).to.equal(await p.registry.getAddress());
    expect(await p.escrow.resolutionWindow()).to.equal(RESOLUTION_WINDOW);
  });

  it("publishes its EIP-712 domain (ERC-5267)", async function () {
    const { escrow } = await loadFixture(deployProtocol);
    const d = await escrowDomain(escrow);
    const domain = await escrow.eip712Domain();
    expect(domain.name).to.equal(d.name);
    expect(domain.version).to.equal(d.version);
    expect(domain.chainId).to.equal(d.chainId);
    expect(domain.verifyingContract).to.equal(d.verifyingContract);
  });
});

describe("Escrow views", function () {
  it("getDeal of an unknown id is zero", async function () {
    const p = await loadFixture(deployProtocol);
    const rec = await p.escrow.getDeal(ethers.id("nothing here"));
    expect(rec.commitment).to.equal(ethers.zeroPadValue("0x", 25));
    expect(rec.since).to.equal(0n);
    expect(rec.status).to.equal(Status.None);
    expect(rec.flags).to.equal(0n);
  });

  it("getDeal returns flags: 0 after open, Flags.PayerReleased after an early release (status still Open)", async function () {
    const p = await loadFixture(deployProtocol);
    const deal = await makeDeal(p);
    const id = await openDeal(p, deal);
    const before = await p.escrow.getDeal(id);
    expect(before.status).to.equal(Status.Open);
    expect(before.flags).to.equal(0n);
    await expect(p.escrow.connect(p.payer).release(deal)).to.emit(p.escrow, "DealReleaseApproved").withArgs(id);
    const after = await p.escrow.getDeal(id);
    expect(after.status).to.equal(Status.Open);
    expect(after.flags).to.equal(BigInt(Flags.PayerReleased));
    expect(after.commitment).to.equal(before.commitment);
    expect(after.since).to.equal(before.since);
  });

  it("floatOf and owed of unknown accounts are zero", async function () {
    const p = await loadFixture(deployProtocol);
    const f = await p.escrow.floatOf(p.other.address, await p.usdt.getAddress());
    expect(f.free).to.equal(0n);
    expect(f.locked).to.equal(0n);
    expect(await p.escrow.owed(await p.usdt.getAddress(), p.other.address)).to.equal(0n);
  });

  it("hashDeal equals TypedDataEncoder.hashStruct('Deal', ...) and changes with every field", async function () {
    const p = await loadFixture(deployProtocol);
    const deal = await makeDeal(p);
    const base = await p.escrow.hashDeal(deal);
    expect(base).to.equal(structHash(deal));
    const variants: DealOut[] = [
      { ...deal, payer: p.other.address },
      { ...deal, payee: p.other.address },
      { ...deal, gateway: p.other.address },
      { ...deal, token: await p.dai.getAddress() },
      { ...deal, amount: deal.amount + 1n },
      { ...deal, deadline: deal.deadline + 1n },
      { ...deal, releaseWindow: deal.releaseWindow + 1n },
      { ...deal, feeBps: deal.feeBps + 1n },
      { ...deal, kind: BigInt(Kind.OffRamp) },
      { ...deal, autoRelease: true },
      { ...deal, salt: ethers.id("another salt") },
    ];
    const seen = new Set([base]);
    for (const v of variants) {
      const h = await p.escrow.hashDeal(v);
      expect(h).to.equal(structHash(v));
      seen.add(h);
    }
    expect(seen.size).to.equal(variants.length + 1);
  });

  it("hashTypedData(structHash) equals the EIP-712 digest ethers computes for Open, Lock and DealAction", async function () {
    const p = await loadFixture(deployProtocol);
    const domain = await escrowDomain(p.escrow);
    const deal = await makeDeal(p);
    const lockDeal = await makeDelegateLockDeal(p);
    const dealId = dealIdOf(deal);
    const messages: [string, Record<string, typeof DEAL_TYPE>, Record<string, unknown>][] = [
      ["Open", OPEN_TYPES, { deal, ref: REF, expiry: 1_234_567n }],
      ["Lock", LOCK_TYPES, { deal: lockDeal, ref: REF2, expiry: 99n }],
      ["Lock", LOCK_TYPES, { deal, ref: REF, expiry: 1_234_567n }],
      ...Object.values(Action).map((action): [string, Record<string, typeof DEAL_TYPE>, Record<string, unknown>] => [
        "DealAction",
        ACTION_TYPES,
        { dealId, action, expiry: ethers.MaxUint256 },
      ]),
    ];
    const digests = new Set<string>();
    for (const [primary, types, value] of messages) {
      const hashStruct = ethers.TypedDataEncoder.hashStruct(primary, types, value);
      const expected = ethers.TypedDataEncoder.hash(domain, types, value);
      expect(await p.escrow.hashTypedData(hashStruct), primary).to.equal(expected);
      digests.add(expected);
    }
    // Open and Lock over the same deal, ref and expiry differ; so does every action
    expect(digests.size).to.equal(messages.length);
  });

  it("hashTypedData is the digest the signature helpers sign (signOpen, signAction)", async function () {
    const p = await loadFixture(deployProtocol);
    const deal = await makeDeal(p);
    const expiry = 1_234_567n;
    const openHash = ethers.TypedDataEncoder.hashStruct("Open", OPEN_TYPES, { deal, ref: REF, expiry });
    const openAuth = await signOpen(p.escrow, p.payer, deal, REF, "Open", expiry);
    expect(ethers.recoverAddress(await p.escrow.hashTypedData(openHash), openAuth.signature)).to.equal(p.payer.address);
    const dealId = dealIdOf(deal);
    const actionHash = ethers.TypedDataEncoder.hashStruct("DealAction", ACTION_TYPES, {
      dealId,
      action: Action.Release,
      expiry,
    });
    const actionAuth = await signAction(p.escrow, p.payer, dealId, Action.Release, expiry);
    expect(ethers.recoverAddress(await p.escrow.hashTypedData(actionHash), actionAuth.signature)).to.equal(
      p.payer.address,
    );
  });

  it("dealIdOf matches the off-chain computation", async function () {
    const p = await loadFixture(deployProtocol);
    for (const [funder, salt] of [
      [p.payer.address, ethers.ZeroHash],
      [p.acceptor.address, ethers.id("salt")],
      [p.acceptor.address, nextDelegateSalt()],
    ]) {
      expect(await p.escrow.dealIdOf(funder, salt)).to.equal(dealIdOf({ payer: funder, salt }));
    }
  });

  describe("lockExpiry", function () {
    it("when the deal is a delegate's lock (OnRamp, prefixed salt) → deadline + releaseWindow + resolutionWindow", async function () {
      const p = await loadFixture(deployProtocol);
      for (const releaseWindow of [MIN_RELEASE_WINDOW, MAX_DELEGATE_RELEASE_WINDOW]) {
        const deal = await makeDelegateLockDeal(p, { releaseWindow });
        expect(await p.escrow.lockExpiry(deal)).to.equal(
          deal.deadline + BigInt(releaseWindow) + BigInt(RESOLUTION_WINDOW),
        );
      }
    });

    it("when the deal is the acceptor's lock (salt without the prefix) → 0", async function () {
      const p = await loadFixture(deployProtocol);
      expect(await p.escrow.lockExpiry(await makeLockDeal(p))).to.equal(0n);
    });

    it("when the deal is a Payment or an OffRamp (even with a prefixed salt) → 0", async function () {
      const p = await loadFixture(deployProtocol);
      for (const deal of [
        await makeDeal(p),
        await makeDeal(p, { salt: nextDelegateSalt() }),
        await makeOffRampDeal(p),
        await makeOffRampDeal(p, { salt: nextDelegateSalt() }),
      ]) {
        expect(await p.escrow.lockExpiry(deal)).to.equal(0n);
      }
    });
  });
});

describe("Escrow: out-of-range calldata on an existing deal", function () {
  it("when perform's deal has a word with out-of-range high bits → it reverts EscrowUnknownDeal (the commitment check), never performs", async function () {
    const p = await loadFixture(deployProtocol);
    const deal = await makeDeal(p);
    const id = await openDeal(p, deal);
    const escrow = await p.escrow.getAddress();
    for (const [field, word] of dirtyWords(deal)) {
      const data = dirtyCalldata(p, "perform", [deal], field, word);
      // the custom error proves the call reached the commitment check rather than failing elsewhere
      await expect(p.payee.sendTransaction({ to: escrow, data }), field)
        .to.be.revertedWithCustomError(p.escrow, "EscrowUnknownDeal")
        .withArgs(id);
    }
    expect(await statusOf(p, deal)).to.equal(Status.Open);
    // the clean deal performs
    await p.payee.sendTransaction({ to: escrow, data: p.escrow.interface.encodeFunctionData("perform", [deal]) });
    expect(await statusOf(p, deal)).to.equal(Status.Performed);
  });
});

describe("Escrow.multicall", function () {
  it("when the payer batches several opens → it opens them all in one transaction", async function () {
    const p = await loadFixture(deployProtocol);
    const deals = [
      await makeDeal(p),
      await makeDeal(p, { amount: USDT(50), payee: p.other.address }),
      await makeDeal(p, { amount: USDT(7), autoRelease: true }),
    ];
    const total = deals.reduce((s, d) => s + d.amount, 0n);
    await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), total);
    const refs = [REF, REF2, ethers.id("order #3")];
    const calls = deals.map((d, i) => p.escrow.interface.encodeFunctionData("open", [d, refs[i]]));
    const tx = p.escrow.connect(p.payer).multicall(calls);
    for (const [i, d] of deals.entries()) {
      await expect(tx)
        .to.emit(p.escrow, "DealOpened")
        .withArgs(dealIdOf(d), p.payer.address, d.payee, tuple(d), refs[i]);
    }
    await expect(tx).to.changeTokenBalances(p.usdt, [p.payer, p.escrow], [-total, total]);
    for (const d of deals) expect(await statusOf(p, d)).to.equal(Status.Open);
  });

  it("when the delegate batches its own open and a lock for the acceptor → both land; the lock emits DealLockedByDelegate", async function () {
    const p = await loadFixture(withFloat);
    const own = await makeDeal(p, { payer: p.delegate.address });
    const lock = await makeDelegateLockDeal(p, { amount: USDT(300) });
    await approveFor(p, own, p.delegate);
    const calls = [
      p.escrow.interface.encodeFunctionData("open", [own, REF]),
      p.escrow.interface.encodeFunctionData("lock", [lock, REF2]),
    ];
    const tx = p.escrow.connect(p.delegate).multicall(calls);
    await expect(tx)
      .to.emit(p.escrow, "DealOpened")
      .withArgs(dealIdOf(own), p.delegate.address, p.payee.address, tuple(own), REF);
    await expectDelegateLockEvents(p, tx, lock, p.delegate.address, REF2);
    await expect(tx).to.changeTokenBalances(p.usdt, [p.delegate, p.escrow], [-own.amount, own.amount]);
    const f = await p.escrow.floatOf(p.acceptor.address, await p.usdt.getAddress());
    expect(f.locked).to.equal(USDT(300));
    expect(await statusOf(p, own)).to.equal(Status.Open);
    expect(await statusOf(p, lock)).to.equal(Status.Open);
  });

  it("when one call of the batch fails → the whole batch reverts, and msg.sender is kept for every call", async function () {
    const p = await loadFixture(deployProtocol);
    const d1 = await makeDeal(p);
    await approveExactly(p.usdt, p.payer, await p.escrow.getAddress(), d1.amount * 2n);
    const dup = [
      p.escrow.interface.encodeFunctionData("open", [d1, REF]),
      p.escrow.interface.encodeFunctionData("open", [d1, REF2]),
    ];
    await expect(p.escrow.connect(p.payer).multicall(dup))
      .to.be.revertedWithCustomError(p.escrow, "EscrowDealExists")
      .withArgs(dealIdOf(d1));
    expect(await statusOf(p, d1)).to.equal(Status.None);

    const single = [p.escrow.interface.encodeFunctionData("open", [d1, REF])];
    await expect(p.escrow.connect(p.other).multicall(single))
      .to.be.revertedWithCustomError(p.escrow, "EscrowUnauthorized")
      .withArgs(dealIdOf(d1), p.other.address);
  });
});
