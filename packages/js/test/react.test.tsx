// @vitest-environment jsdom
// openpanel-browser/react, /react-router and /next with React Testing Library.
import { StrictMode, useState } from 'react';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { BrowserRouter, Link, MemoryRouter, Route, Routes, useNavigate } from 'react-router';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { createOpenPanel } from '../src/index.js';
import { OpenPanelProvider, useOpenPanel, usePageView } from '../src/react.js';
import { ReactRouterPageViews } from '../src/react-router.js';
import { NextPageViews } from '../src/next.js';
import { navigate } from './fakes/next-navigation.js';
import { events, freshClientId, recordFetch, views, type Sent } from './sent.js';

let sent: Sent[];
beforeEach(() => {
  sent = recordFetch();
  window.history.replaceState(null, '', '/');
  document.title = 'Shop';
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  delete (window as { op?: unknown }).op;
});

const wait = (ms: number) => act(() => new Promise((resolve) => setTimeout(resolve, ms)));

function BuyButton() {
  const op = useOpenPanel();
  return <button onClick={() => op.track('buy', { sku: 'A1' })}>Buy</button>;
}

describe('OpenPanelProvider and useOpenPanel', () => {
  test('one client under StrictMode: one first screen view, events from hooks', async () => {
    const clientId = freshClientId();
    const tree = (
      <StrictMode>
        <OpenPanelProvider clientId={clientId}>
          <BuyButton />
        </OpenPanelProvider>
      </StrictMode>
    );
    const { unmount } = render(tree);
    fireEvent.click(screen.getByText('Buy'));
    unmount();
    render(tree); // remounted: the same client, no second first view
    await wait(80);
    expect(events(sent, clientId)).toEqual(['screen_view', 'buy']);
    expect(sent.find((s) => s.payload.name === 'buy')!.payload.properties).toEqual({
      sku: 'A1',
      __path: 'https://shop.example/',
    });
  });

  test('a client made elsewhere', () => {
    const clientId = freshClientId();
    const client = createOpenPanel({ clientId, trackScreenViews: false });
    render(
      <OpenPanelProvider client={client}>
        <BuyButton />
      </OpenPanelProvider>,
    );
    fireEvent.click(screen.getByText('Buy'));
    expect(events(sent, clientId)).toEqual(['buy']);
  });

  test('without a provider, calls go to the script tag (window.op)', () => {
    render(<BuyButton />);
    fireEvent.click(screen.getByText('Buy'));
    const queued = (window as unknown as { op: { q: IArguments[] } }).op.q;
    expect(queued.map((args) => Array.from(args))).toEqual([['track', 'buy', { sku: 'A1' }]]);
    expect(sent).toEqual([]);
  });

  test('usePageView: one view per key, with an explicit path', async () => {
    const clientId = freshClientId();
    function Wizard() {
      const [step, setStep] = useState(1);
      usePageView(step, `/wizard/${step}`);
      return <button onClick={() => setStep(step + 1)}>Next</button>;
    }
    render(
      <StrictMode>
        <OpenPanelProvider clientId={clientId} trackScreenViews={false}>
          <Wizard />
        </OpenPanelProvider>
      </StrictMode>,
    );
    fireEvent.click(screen.getByText('Next'));
    expect(views(sent, clientId)).toEqual([
      'https://shop.example/wizard/1',
      'https://shop.example/wizard/2',
    ]);
  });
});

describe('React Router', () => {
  function Pricing() {
    document.title = 'Pricing';
    return <p>Pricing page</p>;
  }

  function App() {
    const go = useNavigate();
    return (
      <>
        <ReactRouterPageViews />
        <Link to="/pricing?plan=pro">Pricing</Link>
        <button onClick={() => go(-1)}>Back</button>
        <Routes>
          <Route path="/" element={<p>Home</p>} />
          <Route path="/pricing" element={<Pricing />} />
        </Routes>
      </>
    );
  }

  test('MemoryRouter: a view per location, basename included, StrictMode-safe', async () => {
    const clientId = freshClientId();
    render(
      <StrictMode>
        <OpenPanelProvider clientId={clientId} trackScreenViews={false}>
          <MemoryRouter basename="/app" initialEntries={['/app']}>
            <App />
          </MemoryRouter>
        </OpenPanelProvider>
      </StrictMode>,
    );
    fireEvent.click(screen.getByText('Pricing'));
    await screen.findByText('Pricing page');
    fireEvent.click(screen.getByText('Back'));
    await screen.findByText('Home');
    expect(views(sent, clientId)).toEqual([
      'https://shop.example/app',
      'https://shop.example/app/pricing?plan=pro',
      'https://shop.example/app',
    ]);
    const pricing = sent.filter((s) => s.clientId === clientId)[1].payload.properties!;
    expect(pricing.__title).toBe('Pricing');
  });

  test('BrowserRouter with the history hook on: still one view per navigation', async () => {
    const clientId = freshClientId();
    render(
      <OpenPanelProvider clientId={clientId}>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </OpenPanelProvider>,
    );
    fireEvent.click(screen.getByText('Pricing'));
    await screen.findByText('Pricing page');
    await wait(80);
    fireEvent.click(screen.getByText('Back'));
    await screen.findByText('Home');
    await wait(80);
    expect(views(sent, clientId)).toEqual([
      'https://shop.example/',
      'https://shop.example/pricing?plan=pro',
      'https://shop.example/',
    ]);
  });
});

describe('Next.js App Router', () => {
  test('a view per pathname or search change, from the address bar', async () => {
    const clientId = freshClientId();
    render(
      <StrictMode>
        <OpenPanelProvider clientId={clientId} trackScreenViews={false}>
          <NextPageViews />
        </OpenPanelProvider>
      </StrictMode>,
    );
    await wait(0);
    act(() => navigate('/blog'));
    act(() => navigate('/blog?page=2#comments'));
    act(() => navigate('/blog?page=2'));
    await wait(0);
    expect(views(sent, clientId)).toEqual([
      'https://shop.example/',
      'https://shop.example/blog',
      'https://shop.example/blog?page=2#comments',
    ]);
  });
});
