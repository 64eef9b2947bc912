// Owns the list formats `segments warm` reads. Either a JSON array of objects, or CSV with a header line;
// the fields are source, start, end and optionally mode, bitrate, channels, fade_in, fade_out (the URL's
// query names). A text whose first non-blank character is '[' is JSON, anything else CSV. CSV fields may be
// quoted ("a, b" and "" for a quote, as RFC 4180); blank lines are skipped. Every row is checked before
// anything is fetched, and a bad one is named by its line (CSV) or index (JSON).
import { BadRequest } from '../errors.js';
import type { SegmentRequest } from '../segments/segment-url.js';
import { CliError, EXIT } from './command.js';
import { PARAMETER_FIELDS, segmentFrom, type SegmentFields } from './segment-args.js';

const REQUIRED = ['source', 'start', 'end'] as const;
const KNOWN: readonly string[] = [...REQUIRED, ...PARAMETER_FIELDS];

export interface ListedSegment {
  /** "line 3" or "item 2", for messages. */
  where: string;
  segment: SegmentRequest;
}

/** RFC 4180 records: each a list of fields, with the line it starts on. */
export function parseCsv(text: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let afterQuote = false;
  let line = 1;
  let recordLine = 1;
  const endRecord = () => {
    fields.push(field);
    if (fields.length > 1 || fields[0]!.trim() !== '') records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    afterQuote = false;
  };
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (char === '"') {
        quoted = false;
        afterQuote = true;
      } else {
        if (char === '\n') line += 1;
        field += char;
      }
    } else if (char === ',') {
      fields.push(field);
      field = '';
      afterQuote = false;
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i += 1;
      endRecord();
      line += 1;
      recordLine = line;
    } else if (char === '"') {
      if (field.trim() !== '' || afterQuote)
        throw new BadRequest(`line ${line}: a quote inside an unquoted field; quote the whole field ("a ""b"" c").`);
      field = '';
      quoted = true;
    } else if (afterQuote) {
      if (char.trim() !== '') throw new BadRequest(`line ${line}: text after a closing quote; end the field with the quote.`);
    } else {
      field += char;
    }
  }
  if (quoted) throw new BadRequest(`line ${recordLine}: a quoted field is never closed.`);
  endRecord();
  return records;
}

function csvRows(text: string): { where: string; fields: Record<string, string> }[] {
  const [header, ...records] = parseCsv(text);
  if (!header) throw new BadRequest('the list is empty; it needs a header line (source,start,end[,mode]) and one line per segment.');
  const names = header.fields.map((name) => name.trim());
  const unknown = names.find((name) => !KNOWN.includes(name));
  if (unknown !== undefined)
    throw new BadRequest(
      `line ${header.line}: unknown column '${unknown}'; the header names source, start, end and optionally ${PARAMETER_FIELDS.join(', ')}.`,
    );
  return records.map(({ line, fields }) => {
    if (fields.length !== names.length)
      throw new BadRequest(`line ${line}: ${fields.length} field(s), but the header names ${names.length}.`);
    return { where: `line ${line}`, fields: Object.fromEntries(names.map((name, i) => [name, fields[i]!.trim()])) };
  });
}

function jsonRows(text: string): { where: string; fields: Record<string, string> }[] {
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch (error) {
    throw new BadRequest(`not valid JSON (${(error as Error).message}).`);
  }
  if (!Array.isArray(items))
    throw new BadRequest('a JSON list is an array of objects such as {"source": "demo/tones", "start": 10, "end": 20}.');
  return items.map((item: unknown, index) => {
    const where = `item ${index + 1}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw new BadRequest(`${where}: not an object such as {"source": "demo/tones", "start": 10, "end": 20}.`);
    const fields: Record<string, string> = {};
    for (const [name, value] of Object.entries(item)) {
      if (!KNOWN.includes(name))
        throw new BadRequest(
          `${where}: unknown field '${name}'; an item has source, start, end and optionally ${PARAMETER_FIELDS.join(', ')}.`,
        );
      if (typeof value !== 'string' && typeof value !== 'number') throw new BadRequest(`${where}: '${name}' must be a string or a number.`);
      fields[name] = String(value);
    }
    return { where, fields };
  });
}

/** Every segment of the list, checked; a problem is a CliError (exit 2) naming `name` and the row. */
export function parseSegmentList(text: string, name: string): ListedSegment[] {
  const fail = (error: unknown): never => {
    if (error instanceof BadRequest) throw new CliError(`${name}: ${error.detail}`, EXIT.input);
    throw error;
  };
  let rows: { where: string; fields: Record<string, string> }[] = [];
  try {
    rows = text.trimStart().startsWith('[') ? jsonRows(text) : csvRows(text);
  } catch (error) {
    fail(error);
  }
  return rows.map(({ where, fields }) => {
    try {
      const missing = REQUIRED.find((field) => fields[field] === undefined || fields[field] === '');
      if (missing) throw new BadRequest(`'${missing}' is missing.`);
      return { where, segment: segmentFrom(fields as unknown as SegmentFields) };
    } catch (error) {
      return fail(error instanceof BadRequest ? new BadRequest(`${where}: ${error.detail}`) : error);
    }
  });
}
