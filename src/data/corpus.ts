/**
 * The embedded default corpus: first names from @faker-js/faker's locale data, so the demo
 * and the CLI need no data file. Latin-script names from European locales, deduplicated and
 * sorted, so the corpus is the same on every machine for a given faker version.
 */
import { allLocales } from '@faker-js/faker'

/** The locales whose first names make up the default corpus. */
export const CORPUS_LOCALES = [
  'en_IE',
  'fr',
  'de',
  'it',
  'es',
  'nl',
  'sv',
  'nb_NO',
  'da',
  'fi',
  'pl',
  'cs_CZ',
  'pt_PT',
  'ro',
  'hr',
  'sk',
  'lv',
  'hu',
  'en_GB',
  'de_AT',
  'de_CH',
  'fr_BE',
] as const

const LATIN_NAME = /^[\p{Script=Latin}' -]+$/u

interface FirstNames {
  readonly generic?: readonly string[]
  readonly female?: readonly string[]
  readonly male?: readonly string[]
}

/** The default corpus: several thousand distinct first names, sorted. */
export const defaultNames = (): string[] => {
  const set = new Set<string>()
  const locales = allLocales as unknown as Record<string, { person?: { first_name?: FirstNames } } | undefined>
  for (const loc of CORPUS_LOCALES) {
    const fn = locales[loc]?.person?.first_name
    if (fn === undefined) continue
    for (const list of [fn.generic, fn.female, fn.male]) {
      for (const n of list ?? []) if (LATIN_NAME.test(n) && Array.from(n).length <= 25) set.add(n)
    }
  }
  return [...set].sort()
}
