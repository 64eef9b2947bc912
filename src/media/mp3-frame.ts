// Owns facts of the MP3 format that several places need.

/** Length of one MPEG audio layer III frame: 1152 samples in MPEG-1 (32 kHz and up), 576 in MPEG-2/2.5. */
export function mp3FrameSeconds(sampleRate: number): number {
  return (sampleRate >= 32_000 ? 1152 : 576) / sampleRate;
}
