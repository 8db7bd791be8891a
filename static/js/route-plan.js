// The lead's route page: the street map (Leaflet, when a tile source is configured) and drag
// and drop between and within the workers' lanes (SortableJS). Every change is posted to the
// server, which recomputes the times and answers with the map and lanes again (htmx swaps
// #dispatch). Without this script the same changes work with the plain forms on each visit.
(function () {
  "use strict";

  function escapeText(text) {
    const span = document.createElement("span");
    span.textContent = text;
    return span.innerHTML;
  }

  function post(url, values) {
    const form = document.getElementById("dispatch-move");
    const fields = {
      csrf_token: form.elements.csrf_token.value,
      day: form.elements.day.value,
      ...values,
    };
    return window.htmx.ajax("POST", url, {
      source: form,
      target: "#dispatch",
      swap: "outerHTML",
      values: fields,
    });
  }

  function marker(L, className, text) {
    const label = document.createElement("span");
    label.className = className;
    label.textContent = text;
    return L.divIcon({ html: label, className: "map-marker", iconSize: [28, 28], iconAnchor: [14, 14] });
  }

  function startMap(dispatch) {
    const element = dispatch.querySelector(".street-map");
    if (!element || !window.L) return;
    const L = window.L;
    // Positions and numbers only (no names, no addresses): see _map_data in the view.
    const data = JSON.parse(element.dataset.points);
    const grid = JSON.parse(element.dataset.grid || "{}");
    const options = { scrollWheelZoom: false };
    let maxZoom = Number(element.dataset.maxZoom) || 19;
    if (grid.proj4 && L.Proj) {
      // A national grid (UTM zone 32 for Dataforsyningen): Proj4Leaflet maps its tile matrix.
      options.crs = new L.Proj.CRS(grid.crs, grid.proj4, {
        origin: grid.origin,
        resolutions: grid.resolutions,
      });
      maxZoom = Math.min(maxZoom, grid.resolutions.length - 1);
    }
    const map = L.map(element, options);
    map.attributionControl.setPrefix(false);
    L.tileLayer(element.dataset.tiles, {
      maxZoom,
      attribution: escapeText(element.dataset.attribution || ""),
      zz: (tile) => String(tile.z).padStart(2, "0"),
    }).addTo(map);
    const bounds = [];
    if (data.office) {
      L.marker(data.office, {
        icon: marker(L, "office-marker", "⌂"),
        keyboard: false,
        interactive: false, // a click goes to the map (placing a pin)
      }).addTo(map);
      bounds.push(data.office);
    }
    for (const route of data.routes) {
      const line = [route.start, ...route.stops.map((s) => [s.lat, s.lon])];
      L.polyline(line, { className: `route-line route-${route.colour}`, interactive: false }).addTo(map);
      for (const stop of route.stops) {
        L.marker([stop.lat, stop.lon], {
          icon: marker(L, `stop-marker route-${route.colour}`, String(stop.n)),
          keyboard: false,
          interactive: false,
        }).addTo(map);
        bounds.push([stop.lat, stop.lon]);
      }
    }
    for (const item of data.left_out) {
      L.circleMarker([item.lat, item.lon], {
        className: "left-out-marker",
        radius: 7,
        interactive: false,
      }).addTo(map);
      bounds.push([item.lat, item.lon]);
    }
    const close = grid.proj4 ? maxZoom - 3 : 16;
    if (bounds.length) map.fitBounds(bounds, { padding: [24, 24], maxZoom: close });
    else map.setView([56.0338, 12.6127], close - 2);

    // "Place on the map": the next click on the map places that household by hand.
    dispatch.querySelectorAll(".place-on-map").forEach((button) => {
      button.addEventListener("click", () => {
        const form = button.closest("form");
        element.classList.add("placing");
        element.setAttribute("aria-description", element.dataset.placing);
        button.setAttribute("aria-pressed", "true");
        map.once("click", (event) => {
          element.classList.remove("placing");
          post(form.action, {
            lat: event.latlng.lat.toFixed(6),
            lon: event.latlng.lng.toFixed(6),
          });
        });
      });
    });
  }

  function startLanes(dispatch) {
    if (!window.Sortable) return;
    dispatch.querySelectorAll("ol.stops.sortable").forEach((list) => {
      window.Sortable.create(list, {
        group: "lanes",
        animation: 120,
        draggable: "li.stop",
        forceFallback: true, // pointer events: the same on a laptop, a tablet and in tests
        filter: "a, button, input, select, summary, label",
        preventOnFilter: false,
        delayOnTouchOnly: true,
        delay: 150,
        onEnd(event) {
          if (event.from === event.to && event.oldIndex === event.newIndex) return;
          const item = event.item;
          const before = Array.from(event.to.querySelectorAll("li.stop")).indexOf(item);
          post(item.dataset.move, {
            worker: event.to.dataset.worker,
            position: String(before + 1),
          });
        },
      });
    });
  }

  function start(root) {
    const dispatch = root.id === "dispatch" ? root : root.querySelector("#dispatch");
    if (!dispatch) return;
    startMap(dispatch);
    startLanes(dispatch);
  }

  // On the first load, and again for each #dispatch htmx swaps in after a change. The map's
  // element has no id on purpose: htmx settles the attributes of elements whose id is in
  // both the old and the new content, which would take Leaflet's classes off it.
  window.htmx.onLoad(start);
})();
