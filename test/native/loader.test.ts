import { afterEach, describe, expect, it, vi } from 'vitest';

// Each case re-imports the loader with a fresh module registry, because it decides at import.
type Loader = typeof import('../../src/native/index.js');

async function freshLoader(): Promise<{ loader: Loader; stderr: string }> {
  vi.resetModules();
  vi.stubEnv('CHAINLANES_NATIVE_WARNED', undefined);
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { loader: await import('../../src/native/index.js'), stderr };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.doUnmock('node:module');
  vi.resetModules();
});

describe('native loader', () => {
  it('CHAINLANES_NATIVE=0 chooses the fallback with a short note', async () => {
    vi.stubEnv('CHAINLANES_NATIVE', '0');
    const { loader, stderr } = await freshLoader();
    expect(loader.hashing).toBe(loader.jsAddon);
    expect(loader.nativeLoaded).toBe(false);
    expect(loader.nativeLoadError).toMatch(/CHAINLANES_NATIVE=0/);
    expect(stderr).toMatch(/CHAINLANES_NATIVE=0/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('uses the addon when it loads, silently', async () => {
    vi.stubEnv('CHAINLANES_NATIVE', undefined);
    const { loader, stderr } = await freshLoader();
    const native = loader.nativeAddon();
    expect(loader.nativeLoaded).toBe(native !== null);
    if (native === null) {
      expect(loader.hashing).toBe(loader.jsAddon);
      expect(stderr).toMatch(/WARNING/);
    } else {
      expect(loader.hashing.sha256Spans).toBe(native.sha256Spans);
      expect(loader.nativeLoadError).toBeNull();
      expect(stderr).toBe('');
    }
  });

  it('falls back loudly, naming the cause, when the addon fails to load; warns only once', async () => {
    vi.stubEnv('CHAINLANES_NATIVE', undefined);
    vi.doMock('node:module', () => ({
      createRequire: () => () => {
        throw new Error('simulated dlopen failure');
      },
    }));
    const { loader, stderr } = await freshLoader();
    expect(loader.nativeLoaded).toBe(false);
    expect(loader.hashing).toBe(loader.jsAddon);
    expect(loader.nativeAddon()).toBeNull();
    expect(loader.nativeLoadError).toBe('simulated dlopen failure');
    expect(stderr).toMatch(/WARNING/);
    expect(stderr).toMatch(/simulated dlopen failure/);

    // A second load in the same process (as a lane worker would do) stays quiet.
    vi.resetModules();
    let again = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      again += String(chunk);
      return true;
    });
    try {
      await import('../../src/native/index.js');
    } finally {
      spy.mockRestore();
    }
    expect(again).toBe('');
  });
});
