// No seal too large to ship (docs/replicas.md part 3): with standby replicas
// admission cuts the interval's blocks early, before a frame that could take
// their seal message past the stream's bound (`maxCutBytes`, the bound less a
// seal's fixed bytes). Real lanes, a real sealer and store: a burst admitted
// in one block interval becomes several seals, and each, read back from the
// store as the owner ships it, encodes within the bound. And the config
// refuses a frame limit one frame alone could pass.
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { defaultConfig, validateConfig } from '../../src/config/index.js';
import { GatewayFleetSchema } from '../../src/fleet/index.js';
import { SEAL_MESSAGE_FIXED_BYTES } from '../../src/protocol/index.js';
import { encodeMessage } from '../../src/replicas/index.js';
import { RecordingOwner, admitted, startFrontDoor } from '../helpers/front-door.js';

describe('the size of a seal with standby replicas', () => {
  it('a burst in one block interval is cut into seals that each fit the stream bound', async () => {
    const bound = 64 * 1024;
    const door = await startFrontDoor({ limits: { maxCutBytes: bound - SEAL_MESSAGE_FIXED_BYTES } });
    const owner = new RecordingOwner();
    const chains = ['alpha', 'beta', 'gamma'];
    for (let frame = 0; frame < 60; frame++) {
      const chain = chains[frame % 3]!;
      const entries = Array.from({ length: 8 }, (_, i) => `${chain}-${frame}-${i}-${'x'.repeat(200)}`);
      admitted(door.admission.admit(chain, pack(entries), owner, frame));
    }
    await door.sealAll();
    const highest = door.seals.directoryHeight;
    // 60 frames of ~1.7 KB each, counted at their worst (about 6 KB each): the bound held them to about ten frames a seal.
    expect(highest).toBeGreaterThanOrEqual(5);
    let entries = 0;
    for (let height = 0; height <= highest; height++) {
      const seal = door.ledger.shippedSeal(height)!;
      const message = encodeMessage({ type: 'seal', ...seal, headKey: 'ab'.repeat(32), credits: null });
      expect(message.byteLength, `seal ${height}`).toBeLessThanOrEqual(bound);
      entries += door.ledger.directoryEntryCount(height)!;
    }
    expect(entries).toBe(60 * 8);
  });

  it('without replicas nothing is cut early: one interval, one seal', async () => {
    const door = await startFrontDoor();
    const owner = new RecordingOwner();
    for (let frame = 0; frame < 60; frame++) {
      admitted(door.admission.admit('alpha', pack(Array.from({ length: 8 }, (_, i) => `alpha-${frame}-${i}-${'x'.repeat(200)}`)), owner, frame));
    }
    await door.sealAll();
    expect(door.seals.directoryHeight).toBe(0);
  });

  it('the config refuses fleet.maxUnreplicatedBytes too small for the seal of the largest frame', () => {
    const config = defaultConfig();
    config.fleet = GatewayFleetSchema.parse({
      etcd: { endpoints: ['http://127.0.0.1:2379'] },
      gatewayId: 'g1',
      advertiseUrl: 'http://127.0.0.1:9',
      replicas: 1,
      machine: 'm1',
      maxUnreplicatedBytes: 2 * 1024 * 1024,
    });
    expect(() => validateConfig(config)).toThrow(/fleet\.maxUnreplicatedBytes.*at least \d+ bytes with fleet\.replicas: 1/s);
    config.limits.maxEntriesPerFrame = 1024;
    expect(() => validateConfig(config)).not.toThrow();
  });
});
