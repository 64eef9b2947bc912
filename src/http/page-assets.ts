// Owns the files the clip picker loads besides itself: wavesurfer.js and its regions plugin, the npm
// package's own UMD builds, read once at start from node_modules and served by the API from /assets/ (no
// CDN: the page makes no request off its origin). Each carries its SHA-256, which the page puts in its
// script's integrity attribute and its Content-Security-Policy allows by hash: only these exact bytes run.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface PageAsset {
  /** Where the page loads it from. */
  url: string;
  body: Buffer;
  /** `sha256-<base64>`: the script's integrity attribute and its CSP hash source. */
  integrity: string;
  etag: string;
}

export interface PageAssets {
  wavesurfer: PageAsset;
  regions: PageAsset;
}

/** The UMD builds (globals WaveSurfer and WaveSurfer.Regions), each one self-contained file. */
const FILES = { wavesurfer: 'wavesurfer.min.js', regions: 'plugins/regions.min.js' } as const;

export async function loadPageAssets(): Promise<PageAssets> {
  // The package's exports map has no entry for its UMD files under `require`; its main entry lies in the
  // same dist folder, wherever npm put the package.
  const dist = path.dirname(createRequire(import.meta.url).resolve('wavesurfer.js'));
  const load = async (file: string): Promise<PageAsset> => {
    const body = await readFile(path.join(dist, file));
    const digest = createHash('sha256').update(body);
    return {
      url: `/assets/${path.basename(file)}`,
      body,
      integrity: `sha256-${digest.copy().digest('base64')}`,
      etag: `"${digest.digest('hex').slice(0, 32)}"`,
    };
  };
  const [wavesurfer, regions] = await Promise.all([load(FILES.wavesurfer), load(FILES.regions)]);
  return { wavesurfer, regions };
}
