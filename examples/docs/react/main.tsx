// React quick start: one provider at the root, the hook in components.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter, Route, Routes } from 'react-router';
import { OpenPanelProvider, useOpenPanel } from 'openpanel-browser/react';
import { ReactRouterPageViews } from 'openpanel-browser/react-router';

function BuyButton({ sku }: { sku: string }) {
  const op = useOpenPanel();
  return <button onClick={() => op.track('add_to_cart', { sku })}>Add to cart</button>;
}

function Home() {
  return (
    <main>
      <h1>Shop</h1>
      <BuyButton sku="kettle" />
    </main>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    {/* The router component sends the screen views, so the history tracking is off. */}
    <OpenPanelProvider clientId="YOUR_CLIENT_ID" apiUrl="/_op" trackScreenViews={false}>
      <BrowserRouter>
        <ReactRouterPageViews />
        <Routes>
          <Route path="/" element={<Home />} />
        </Routes>
      </BrowserRouter>
    </OpenPanelProvider>
  </StrictMode>,
);
