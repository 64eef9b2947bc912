// Owns the JSON body of POST /renders: the parameters of a segment URL as JSON fields, their schema, and
// the step to the same SegmentRequest a segment URL parses to, through the same parsers (numbers of
// seconds, render options, source path checks), so both ways of asking mean the same render.
import { MP3_BITRATES, parseRenderOptions, QUERY_PARAMETERS, segmentQuerySchema } from './render-options.js';
import { SECONDS_PATTERN } from './seconds.js';
import { parseDecodedSourcePath, parseTimes, type SegmentRequest } from './segment-url.js';

export interface RenderRequestBody {
  source: string;
  start: number | string;
  end: number | string;
  mode?: 'copy' | 'exact';
  bitrate?: number | string;
  channels?: number | string;
  fade_in?: number | string;
  fade_out?: number | string;
  download?: boolean;
  sig?: string;
}

/** What each field takes, in words; used for the schema's error messages. */
export const RENDER_BODY_FIELDS: Record<keyof RenderRequestBody, string> = {
  source: "the source's path below the media root as GET /sources lists it (decoded, '/' between folders), e.g. 'demo/tones'",
  start: 'seconds (a number, or a string such as "754.5"), at most three fraction digits',
  end: "seconds greater than start (past the source's end means its end)",
  mode: QUERY_PARAMETERS.mode,
  bitrate: QUERY_PARAMETERS.bitrate,
  channels: QUERY_PARAMETERS.channels,
  fade_in: QUERY_PARAMETERS.fade_in,
  fade_out: QUERY_PARAMETERS.fade_out,
  download: 'true to have the segment URL answer as an attachment (a download link)',
  sig: "where URLs are signed: the signature of the segment's canonical URL (`segments sign` prints it)",
};

// A number, or a string spelled as in a URL; either way parseSeconds has the last word.
const seconds = {
  anyOf: [
    { type: 'number', minimum: 0 },
    { type: 'string', pattern: SECONDS_PATTERN },
  ],
} as const;

export const renderBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['source', 'start', 'end'],
  properties: {
    source: { type: 'string', minLength: 1 },
    start: seconds,
    end: seconds,
    mode: segmentQuerySchema.properties.mode,
    bitrate: { enum: [...MP3_BITRATES, ...MP3_BITRATES.map(String)] },
    channels: { enum: [1, 2, '1', '2'] },
    fade_in: seconds,
    fade_out: seconds,
    download: { type: 'boolean' },
    sig: segmentQuerySchema.properties.sig,
  },
} as const;

const text = (value: number | string | undefined) => (value === undefined ? undefined : String(value));

/** The segment the body asks for; throws BadRequest as a segment URL with the same mistake would. */
export function parseRenderBody(body: RenderRequestBody): SegmentRequest {
  return {
    source: parseDecodedSourcePath(body.source),
    ...parseTimes(String(body.start), String(body.end)),
    options: parseRenderOptions({
      mode: body.mode,
      bitrate: text(body.bitrate),
      channels: text(body.channels),
      fade_in: text(body.fade_in),
      fade_out: text(body.fade_out),
    }),
    download: body.download === true,
  };
}
