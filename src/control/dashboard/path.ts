// Where the control plane serves the dashboard (a module of its own: `npm start` prints it before loading the plane).

export const DASHBOARD_PATH = '/dashboard/';
