/**
 * The configuration: one schema, defaults filled, validated once, frozen; errors name the field.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, mergeConfig } from '../../services/core/config.ts';
import { codeOfSync } from '../support/code-of.ts';

describe('configuration', () => {
  it('fills every default and freezes the result', () => {
    const config = loadConfig();
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(config.runtime).toMatchObject({ intraOpThreads: 1, maxQueueSize: 32, workerNice: 10, warmup: true, batching: { maxBatchSize: 1 } });
    expect(config.tasks).toEqual({ concurrency: 0, adaptiveConcurrency: false, maxWaiting: 64, maxQueueDelayMs: 5, rateLimit: { max: 0, windowMs: 1000 } });
    expect(config.models.load).toEqual(['centernet', 'nanodet', 'blazeface', 'emotion', 'defect', 'defect-gravel', 'defect-grass', 'defect-metal', 'defect-textile', 'melspec', 'speech_embedding', 'silero_vad', 'asr']);
    expect(config.speech).toMatchObject({ model: 'asr', maxAudioSeconds: 30, stream: { maxStreams: 32, endSilenceMs: 700 } });
    expect(Object.isFrozen(config.runtime.batching)).toBe(true);
    expect(() => {
      (config.server as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('keeps what it is given, down to nested sections', () => {
    const config = loadConfig({ runtime: { batching: { maxBatchSize: 4 } }, tasks: { maxWaiting: 3 } });
    expect(config.runtime.batching).toEqual({ maxBatchSize: 4, maxQueueDelayMs: 2 });
    expect(config.tasks.maxWaiting).toBe(3);
  });

  it('BAD CALL - a value of the wrong type or out of range -> EDGE_ERR_CONFIG_INVALID naming the field', () => {
    expect(() => loadConfig({ server: { port: 70_000 } })).toThrow(/\/server\/port/);
    expect(codeOfSync(() => loadConfig({ runtime: { workerNice: 25 } }))).toBe('EDGE_ERR_CONFIG_INVALID');
    expect(codeOfSync(() => loadConfig({ server: { adminToken: 'short' } }))).toBe('EDGE_ERR_CONFIG_INVALID');
  });

  it('BAD CALL - an unknown setting (a typo) -> EDGE_ERR_CONFIG_INVALID, not silence', () => {
    expect(() => loadConfig({ tasks: { maxWaitng: 5 } } as never)).toThrow(/\/tasks\/maxWaitng: unknown setting/);
    expect(codeOfSync(() => loadConfig({ sever: {} } as never))).toBe('EDGE_ERR_CONFIG_INVALID');
  });

  it('mergeConfig merges objects key by key and replaces arrays and values', () => {
    const merged = mergeConfig(
      { server: { port: 1, host: 'a' }, models: { load: ['x', 'y'] }, runtime: { batching: { maxBatchSize: 2 } } },
      { server: { port: 2 }, models: { load: ['z'] }, runtime: { batching: { maxQueueDelayMs: 5 } } },
    );
    expect(merged).toEqual({ server: { port: 2, host: 'a' }, models: { load: ['z'] }, runtime: { batching: { maxBatchSize: 2, maxQueueDelayMs: 5 } } });
  });

  it('BAD CALL - an MQTT broker URL without a scheme or with spaces -> EDGE_ERR_CONFIG_INVALID; mqtt(s)/ws(s) URLs pass', () => {
    for (const url of ['localhost:1883', 'mqtt://has spaces', '']) {
      expect(codeOfSync(() => loadConfig({ streams: { mqtt: { url } } })), url).toBe('EDGE_ERR_CONFIG_INVALID');
    }
    for (const url of ['mqtts://sensors.site:8883', 'ws://s.example/mqtt']) expect(loadConfig({ streams: { mqtt: { url } } }).streams.mqtt.url).toBe(url);
  });
});
