// Owns reading ffmpeg's own progress reports: the `time=HH:MM:SS.xx` of its stats lines on stderr (printed
// about every 0.5 s while it works, and once at its end). Read from stderr rather than through
// fluent-ffmpeg's 'progress' event, which makes fluent-ffmpeg run ffprobe on the input before every render.

// `time=N/A` (nothing written yet) and negative times (a seek's first packets) are not progress.
const TIME_PATTERN = /(?:^|\s)time=\s*(\d+):([0-5]\d):([0-5]\d(?:\.\d+)?)(?:\s|$)/;

/** Seconds of output written, from one stderr line of ffmpeg; null when the line is not a stats line. */
export function progressSeconds(line: string): number | null {
  const match = TIME_PATTERN.exec(line);
  if (!match) return null;
  return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]);
}
