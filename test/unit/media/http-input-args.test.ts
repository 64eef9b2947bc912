import { expect, it } from 'vitest';
import { httpInputOptions } from '../../../src/media/ffmpeg.js';

it("gives ffmpeg the origin's headers, CRLF-terminated in one -headers value, and a read timeout in microseconds", () => {
  expect(httpInputOptions({ Authorization: 'Bearer a b', Host: 'media.example.com' }, 2_500)).toEqual([
    '-headers',
    'Authorization: Bearer a b\r\nHost: media.example.com\r\n',
    '-rw_timeout',
    '2500000',
  ]);
  expect(httpInputOptions({}, 1_000)).toEqual(['-rw_timeout', '1000000']);
});
