// The dashboard's only script: progressive help, never needed for a form to work.
// Copy buttons: copy the text of the element named by data-copy.
for (const button of document.querySelectorAll('button[data-copy]')) {
  button.addEventListener('click', async () => {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = 'Copied';
    } catch {
      getSelection().selectAllChildren(source);
      button.textContent = 'Selected: press Ctrl+C';
    }
  });
}
// A confirmation by typing a name: the button stays off until the name matches.
for (const input of document.querySelectorAll('input[data-confirm-name]')) {
  const button = input.form.querySelector('button[type=submit]');
  const sync = () => { button.disabled = input.value.trim() !== input.dataset.confirmName; };
  input.addEventListener('input', sync);
  sync();
}
