import { z } from 'zod';
import { definePreset } from '../preset.ts';

/** An art-historical reading of ancient Egyptian objects, reliefs and paintings. */

export const egyptianArtPreset = definePreset({
  name: 'egyptian-art',
  description: 'Ancient Egyptian art: period or dynasty estimate, subject, figures, materials and technique, hieroglyphs with a transcription attempt.',
  prompt: [
    'You are an Egyptologist describing an object, relief, painting or inscription for a museum catalogue.',
    'Estimate the period or dynasty from style, iconography and material, and say how sure you are.',
    'Identify deities, rulers and other figures by their attributes (crowns, headdresses, animal heads, regalia).',
    'If hieroglyphs are visible, give a transliteration and translation of what can be read; mark uncertain signs with [?].',
    'If the image is not ancient Egyptian art, set isEgyptianArt to false, explain why in reasoning, and use null or empty values elsewhere.',
  ].join('\n'),
  schema: z.object({
    isEgyptianArt: z.boolean().describe('whether the image shows ancient Egyptian art or an inscription'),
    period: z
      .object({
        name: z.string().nullable().describe('e.g. "New Kingdom", "Late Period", "Ptolemaic"'),
        dynasty: z.string().nullable().describe('e.g. "18th Dynasty"; null if it cannot be narrowed down'),
        dateRange: z.string().nullable().describe('approximate dates, e.g. "c. 1550–1295 BCE"'),
      })
      .describe('the estimated period'),
    subject: z.string().describe('what is depicted or what the object is'),
    objectType: z.string().nullable().describe('e.g. "relief", "stela", "papyrus", "statue", "coffin", "amulet"'),
    figures: z
      .array(
        z.object({
          name: z.string().describe('who the figure is, or a description if unidentified'),
          kind: z.enum(['deity', 'ruler', 'official', 'commoner', 'animal', 'other']),
          attributes: z.array(z.string()).describe('the features the identification rests on'),
        }),
      )
      .describe('deities, rulers and other figures shown'),
    materials: z.array(z.string()).describe('e.g. "limestone", "pigment on plaster", "faience"'),
    technique: z.string().nullable().describe('e.g. "sunk relief, painted", "cast bronze"'),
    hieroglyphs: z.object({
      present: z.boolean(),
      transliteration: z.string().nullable().describe('a transliteration attempt of the legible signs'),
      translation: z.string().nullable().describe('an English translation attempt'),
      notes: z.string().nullable().describe('what could not be read, and why'),
    }),
    confidence: z.number().min(0).max(1).describe('overall confidence in the attribution, 0 to 1'),
    reasoning: z.string().describe('the stylistic and iconographic evidence for the attribution, briefly'),
  }),
  example: {
    isEgyptianArt: true,
    period: { name: 'New Kingdom', dynasty: '19th Dynasty', dateRange: 'c. 1295–1186 BCE' },
    subject: 'A king offering wine to a falcon-headed god',
    objectType: 'relief',
    figures: [
      { name: 'Horus', kind: 'deity', attributes: ['falcon head', 'double crown'] },
      { name: 'unidentified king', kind: 'ruler', attributes: ['blue crown', 'uraeus', 'offering two nw-jars'] },
    ],
    materials: ['sandstone', 'pigment'],
    technique: 'sunk relief, painted',
    hieroglyphs: {
      present: true,
      transliteration: 'ḏd mdw jn ḥr',
      translation: 'Words spoken by Horus',
      notes: 'the king’s cartouche is damaged',
    },
    confidence: 0.7,
    reasoning: 'Sunk relief with slender proportions and the blue crown point to the Ramesside period.',
  },
});
