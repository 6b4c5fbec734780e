/* Names, for screen readers, the controls CKAN's table view (datatables_view) creates without one: each column's
   filter box ("Filtrer la colonne nom"), the input DataTables' KeyTable focuses to move through the cells, and the
   empty frame its resize sensor adds (hidden from assistive technologies). The texts come translated from
   templates/datatables/datatables_view.html. DataTables redraws and clones its header: named again after each
   change of the page. */
(function () {
  'use strict';

  function texts() {
    var holder = document.getElementById('communes-datatables-labels');
    return holder ? holder.dataset : null;
  }

  function nameControls() {
    var labels = texts();
    if (!labels) {
      return;
    }
    document.querySelectorAll('input.fhead:not([aria-label])').forEach(function (input) {
      // CKAN names a column filter "dtcol-<column>-<index>".
      var column = (input.getAttribute('name') || '').replace(/^dtcol-/, '').replace(/-\d+$/, '');
      input.setAttribute('aria-label', labels.columnFilter.replace('{column}', column));
    });
    document.querySelectorAll('input[type="text"]:not([aria-label]):not([id]):not([name])').forEach(function (input) {
      input.setAttribute('aria-label', labels.keyboard);
    });
    document.querySelectorAll('iframe[src="about:blank"]:not([aria-hidden])').forEach(function (frame) {
      frame.setAttribute('aria-hidden', 'true');
      frame.setAttribute('tabindex', '-1');
      frame.setAttribute('title', '');
    });
  }

  function start() {
    nameControls();
    new MutationObserver(nameControls).observe(document.body, {childList: true, subtree: true});
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
