import { describe, expect, it } from 'vitest';
import { progressSeconds } from '../../../src/media/ffmpeg-progress.js';

describe('progressSeconds (ffmpeg stderr stats lines)', () => {
  it('reads the time= of a stats line as seconds', () => {
    expect(progressSeconds('size=    1792kB time=00:02:05.12 bitrate= 117.3kbits/s speed=62.5x    ')).toBeCloseTo(125.12, 6);
    expect(progressSeconds('size=     256kB time=01:00:00.50 bitrate= 128.0kbits/s speed= 100x')).toBeCloseTo(3600.5, 6);
  });

  it('reads a time without fraction digits and one with padding after "="', () => {
    expect(progressSeconds('size=0kB time=00:00:07 bitrate=N/A')).toBe(7);
    expect(progressSeconds('frame=0 time= 00:00:01.00 speed=1x')).toBe(1);
  });

  it('reads the final stats line too', () => {
    expect(progressSeconds('size=    4689kB time=00:05:00.01 bitrate= 128.0kbits/s speed=62.4x    ')).toBeCloseTo(300.01, 6);
  });

  it('ignores time=N/A, negative times and lines that are not stats', () => {
    expect(progressSeconds('size=       0kB time=N/A bitrate=N/A speed=N/A')).toBeNull();
    expect(progressSeconds('size=       0kB time=-00:00:00.02 bitrate=N/A')).toBeNull();
    expect(progressSeconds("Input #0, mp3, from '/media/demo/tones.mp3':")).toBeNull();
    expect(progressSeconds('  Duration: 00:01:30.04, start: 0.025057, bitrate: 128 kb/s')).toBeNull();
    expect(progressSeconds('video:0kB audio:4688kB subtitle:0kB other streams:0kB global headers:0kB')).toBeNull();
    expect(progressSeconds('')).toBeNull();
  });

  it('ignores malformed clock fields', () => {
    expect(progressSeconds('time=00:61:00.00 bitrate=1')).toBeNull();
    expect(progressSeconds('overtime=00:00:01.00')).toBeNull();
  });
});
