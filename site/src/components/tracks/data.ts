/**
 * What the track and progress pages read at build time: the labs (from their manifests, via labs.ts), the docs
 * pages' titles (the content collection), and the tracks checked against both. A track that names an unknown lab,
 * task or page, disagrees with a lab's minutes, or overruns its budget fails the build here, with the same
 * sentences as the unit test (tracks.test.ts).
 */
import { getCollection } from 'astro:content';
import { loadLabs } from '../../labs.ts';
import { TRACKS, validateTracks, type Track, type TrackLab } from '../../tracks.ts';

export interface TrackData {
  readonly tracks: readonly Track[];
  readonly labs: ReadonlyMap<string, TrackLab>;
  readonly pageTitle: (slug: string) => string | undefined;
}

let cached: Promise<TrackData> | undefined;

/** The tracks with their labs and page titles; throws (failing the build) when a track is inconsistent. */
export function trackData(): Promise<TrackData> {
  cached ??= (async () => {
    const labs = new Map<string, TrackLab>(loadLabs().map((l) => [l.id, l]));
    const docs = await getCollection('docs');
    const titles = new Map(docs.map((d) => [d.id, d.data.title]));
    const problems = validateTracks(TRACKS, { labs, pages: new Set(titles.keys()) });
    if (problems.length > 0)
      throw new Error(`the course tracks (site/src/tracks.ts) are inconsistent:\n- ${problems.join('\n- ')}`);
    return { tracks: TRACKS, labs, pageTitle: (slug) => titles.get(slug) };
  })();
  return cached;
}
