// Vue quick start: the plugin at app creation (with the router for screen views),
// useOpenPanel() in components.
import { createApp, defineComponent, h } from 'vue';
import { RouterView, createRouter, createWebHistory } from 'vue-router';
import { OpenPanelPlugin, useOpenPanel } from 'openpanel-browser/vue';

const BuyButton = defineComponent({
  props: { sku: { type: String, required: true } },
  setup(props) {
    const op = useOpenPanel();
    return () => h('button', { onClick: () => op.track('add_to_cart', { sku: props.sku }) }, 'Add to cart');
  },
});

const Home = defineComponent({
  setup: () => () => h('main', [h('h1', 'Shop'), h(BuyButton, { sku: 'kettle' })]),
});

const router = createRouter({ history: createWebHistory(), routes: [{ path: '/', component: Home }] });

createApp({ setup: () => () => h(RouterView) })
  .use(router)
  .use(OpenPanelPlugin, { clientId: 'YOUR_CLIENT_ID', apiUrl: '/_op', router })
  .mount('#app');
