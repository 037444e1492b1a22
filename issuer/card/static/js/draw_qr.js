// Drawing a QR text as an SVG, with the QR encoder from npm (qrcode-generator).

import qrcode from "../../vendor/qrcode-generator.mjs";

const SVG = "http://www.w3.org/2000/svg";
const QUIET = 4; // modules of white border, as the QR standard asks

export function draw(svg, text) {
  // Level M as the issuer's own QRs (issuer/passes/qr.py); type 0: the smallest version that fits.
  const code = qrcode(0, "M");
  code.addData(text, "Alphanumeric"); // base45 is the QR alphanumeric set: 5.5 bits a character
  code.make();
  const count = code.getModuleCount();
  const size = count + 2 * QUIET;
  let path = "";
  for (let row = 0; row < count; row += 1) {
    for (let col = 0; col < count; col += 1) {
      if (code.isDark(row, col)) path += `M${col + QUIET} ${row + QUIET}h1v1h-1z`;
    }
  }
  const background = document.createElementNS(SVG, "rect");
  background.setAttribute("width", size);
  background.setAttribute("height", size);
  background.setAttribute("fill", "#fff");
  const modules = document.createElementNS(SVG, "path");
  modules.setAttribute("d", path);
  modules.setAttribute("fill", "#000");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.replaceChildren(background, modules);
  return count;
}
