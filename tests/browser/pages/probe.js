// The never-throws pages: calls made after the script has loaded, each in its own try/catch,
// so that a throw into the page is recorded (window.thrown) rather than hidden.
window.thrown = [];
window.afterLoad = function () {
  var calls = [
    function () { op('track', 'after_load', { n: 2 }); },
    function () { op.track('after_load_property', { n: 3 }); },
    function () { op('identify', null); },
    function () { op('identify', { profileId: 'p2', email: 'p2@example.com' }); },
    function () { op('increment'); },
    function () { op('decrement', { property: 'visits' }); },
    function () { op('revenue', 'not a number'); },
    function () { op('track'); },
    function () { op('track', { not: 'a name' }); },
    function () { op('setGlobalProperties', null); },
    function () { op('clear'); },
    function () { op('no_such_method'); },
    function () { history.pushState({}, '', '/spa-route'); },
    function () { history.replaceState(null, ''); },
    function () { location.hash = '#somewhere'; },
  ];
  calls.forEach(function (call, i) {
    try {
      call();
    } catch (e) {
      window.thrown.push(i + ': ' + e);
    }
  });
  // The page's own errors still reach the page: a cross-origin pushState is a SecurityError.
  try {
    history.pushState({}, '', 'https://elsewhere.invalid/');
    window.ownError = 'none';
  } catch (e) {
    window.ownError = e.name;
  }
};
