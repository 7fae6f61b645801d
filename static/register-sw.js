// Registers the service worker (static/sw.js), and when a new version of the studio has been
// installed while this page runs an older one, says so with a "Reload" button. Plain script,
// outside the wasm app, so it works even when the app cannot start.
(() => {
  if (!('serviceWorker' in navigator)) return;
  const offer = (waiting) => {
    if (document.getElementById('update-banner')) return;
    const banner = document.createElement('div');
    banner.id = 'update-banner';
    banner.setAttribute('role', 'status');
    banner.textContent = 'A new version of the studio is ready. ';
    const button = document.createElement('button');
    button.className = 'button';
    button.textContent = 'Reload';
    button.addEventListener('click', () => waiting.postMessage('skip-waiting'));
    banner.append(button);
    document.body.prepend(banner);
  };
  let reloading = false;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    // Only when the visitor asked for the new version (a first install takes control too).
    if (reloading || !document.getElementById('update-banner')) return;
    reloading = true;
    location.reload();
  });
  window.addEventListener('load', async () => {
    try {
      const registration = await navigator.serviceWorker.register('sw.js');
      const watch = (worker) => worker?.addEventListener('statechange', () => {
        if (worker.state === 'installed' && navigator.serviceWorker.controller) offer(worker);
      });
      if (registration.waiting && navigator.serviceWorker.controller) offer(registration.waiting);
      watch(registration.installing);
      registration.addEventListener('updatefound', () => watch(registration.installing));
    } catch (error) {
      console.warn('the service worker did not register; the studio works, but not offline:', error);
    }
  });
})();
