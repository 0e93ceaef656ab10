// The two App Router hooks `openpanel-browser/next` uses, so this package type-checks without
// installing Next.js (a peer dependency). Their real types are compatible with these.
declare module 'next/navigation' {
  export function usePathname(): string | null;
  export function useSearchParams(): { toString(): string } | null;
}
