import { z } from 'zod';
import { definePreset } from '../preset.ts';

/** General-purpose structured description of any image. */

const flag = (what: string) => z.boolean().describe(`true if the image shows ${what}`);

export const describePreset = definePreset({
  name: 'describe',
  description: 'Caption, tags, objects, legible text and safety-relevant content flags for any image.',
  prompt: [
    'Describe this image for a search index and a content-review queue.',
    'Report only what is visible; do not guess names of real people.',
    'Transcribe legible text exactly as written, in reading order, one entry per line or block.',
    'Set each content flag strictly: true only if the image clearly shows it.',
  ].join('\n'),
  schema: z.object({
    caption: z.string().describe('one sentence saying what the image shows'),
    tags: z.array(z.string()).max(20).describe('lower-case keywords, most relevant first'),
    objects: z
      .array(
        z.object({
          label: z.string().describe('what the object is, lower-case singular noun'),
          count: z.number().int().min(1).describe('how many are visible'),
        }),
      )
      .max(30)
      .describe('distinct kinds of objects, most prominent first'),
    text: z.array(z.string()).describe('legible text in the image, verbatim; empty if none'),
    contentFlags: z
      .object({
        nudity: flag('nudity or sexual content'),
        violence: flag('violence, injury or gore'),
        weapons: flag('weapons'),
        drugs: flag('drugs or drug use'),
        hateSymbols: flag('hate symbols or extremist imagery'),
        selfHarm: flag('self-harm'),
        minors: flag('children or minors'),
        identifiableFaces: flag('clearly identifiable human faces'),
        personalData: flag('personal data such as ID documents, licence plates, addresses or card numbers'),
      })
      .describe('safety-relevant content present in the image'),
  }),
  example: {
    caption: 'A red tram crosses a stone bridge over a river at dusk.',
    tags: ['tram', 'bridge', 'river', 'city', 'dusk'],
    objects: [
      { label: 'tram', count: 1 },
      { label: 'street lamp', count: 4 },
    ],
    text: ['LINE 7'],
    contentFlags: {
      nudity: false,
      violence: false,
      weapons: false,
      drugs: false,
      hateSymbols: false,
      selfHarm: false,
      minors: false,
      identifiableFaces: false,
      personalData: false,
    },
  },
});
